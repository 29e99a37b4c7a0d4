"""Plaza settings.

Every value comes from the environment (or a `.env` file beside manage.py, which `make`
creates on first run with a fresh SECRET_KEY). The embedded default needs nothing else:
SQLite in `db.sqlite3`, local-memory cache. Production sets DATABASE_URL and the security
variables documented in `.env.example` and docs/deployment.md.
"""

import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Run `make .env` to generate a local one, or export "
            "SECRET_KEY (50+ random characters) in production."
        )
    # A constant fallback would let anyone forge tokens and reset links on every such
    # server. A fresh key per start (per process) means signed links and sessions do not
    # survive a restart, which is what a debug server without a key can promise; and it
    # cannot serve several processes (workers, Celery), which must all sign alike.
    if env.str("REDIS_URL", default=""):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With REDIS_URL, several processes (server workers, "
            "Celery workers) must sign tokens and links with one key: run `make .env`, or "
            "export SECRET_KEY (50+ random characters)."
        )
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "plaza.core.apps.PlazaAdminConfig",  # django.contrib.admin, sign-in rate limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "plaza.core",
    "plaza.accounts",
    "plaza.graph",
    "plaza.posts",
    "plaza.feed",
    "plaza.notifications",
    "plaza.messaging",
    "plaza.media",
    "plaza.tags",
    "plaza.realtime",
    "plaza.operations",
    "plaza.rest",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "plaza.core.throttling.rate_limit_headers_middleware",
]

ROOT_URLCONF = "config.urls"
# Redirecting /api/posts to /api/posts/ would drop a POST's body (and raises with DEBUG on):
# a missing slash is a 404 whose message names the right path instead.
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# How long a connection is kept for the next request. A WSGI server's worker (gunicorn's sync
# and gthread workers) serves requests one after another on its own long-lived threads, so
# each thread keeps its connection: the default when config.wsgi, the WSGI entry point, is
# what loads these settings. Under ASGI the next request's sync code may run on another
# thread, and Django's docs advise against CONN_MAX_AGE there: 0, a connection per request
# (PostgreSQL has its pool, below). Management commands and Celery workers keep 0 as well.
SERVED_BY_WSGI = "config.wsgi" in sys.modules
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600 if SERVED_BY_WSGI else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite under concurrent requests: WAL lets readers run beside the one writer, IMMEDIATE
    # transactions take the write lock up front (so two writers queue instead of failing with
    # "database is locked" on lock upgrade), and the busy timeout is how long they queue.
    # CONN_MAX_AGE applies as on other databases: a new SQLite connection runs these PRAGMAs
    # and starts with an empty page cache, which made a feed request cost 6.6-9.7 ms instead
    # of 2.8 (large bench data set, in-process).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA cache_size=-65536;"
            "PRAGMA mmap_size=268435456;"
        ),
    }
    # Tests use a real file (WAL, several connections) rather than a shared-cache memory
    # database, whose locking differs from what users run. One file per test run, so two
    # runs in one checkout (an editor's and a terminal's) never share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / ".tmp" / f"test-db-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=True
):
    # Each worker process keeps a few connections open and lends one to each request:
    # without a pool every request pays PostgreSQL's connection setup (a forked backend and a
    # SCRAM handshake), which capped even /api/health/ near 100 req/s in bench/.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    # Django's backend, with requests refused at once during an outage instead of each
    # waiting DATABASE_POOL_TIMEOUT (plaza/core/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "plaza.core.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        # psycopg retries a failed connection with a doubling delay for 5 minutes by default:
        # after a long outage the next retry could come minutes after the database is back.
        # Giving up after a few seconds lets the next request start a fresh series at once.
        "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_TIMEOUT", default=5.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis, cache and background work ------------------------------------------------------
# Unset (the embedded default): local-memory cache, background work runs in-process after
# commit, and the home feed is read from the database alone. Set (the distributed mode):
# Redis caches, brokers Celery tasks and holds each user's home timeline.
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
                # Fail open: with Redis down the cache misses (and says so in the logs)
                # instead of failing requests.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    # Not logged per call: rate limiting reads the cache on every request, so an outage
    # would log a traceback per request. The throttles log it themselves, once a minute.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    # Room for the rate-limit counters of many clients (each a small integer): at the
    # default 300 entries, local memory would evict active counters of a busy server.
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://plaza?max_entries=10000")}

# Without Redis there is no broker: tasks run eagerly (below), though Celery still takes a
# producer from its pool to serialize their arguments as a worker would get them. That makes a
# kombu connection to the in-memory transport, which warns "No hostname was supplied" when
# the URL names no host: hence "localhost" (kombu's default for it anyway).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Without a broker, tasks run in the process that sends them (after the commit that sends
# them), so the embedded default needs no worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}

# --- Home feed ------------------------------------------------------------------------------
# With Redis, each user's home timeline is a list of post ids kept up to date on write
# (fan-out); without it, the feed is one indexed query per page.
FEED_TIMELINES = env.bool("FEED_TIMELINES", default=bool(REDIS_URL))
FEED_TIMELINE_SIZE = env.int("FEED_TIMELINE_SIZE", default=800)
# Accounts with more followers are not fanned out: their posts are merged in at read time.
FEED_FANOUT_MAX_FOLLOWERS = env.int("FEED_FANOUT_MAX_FOLLOWERS", default=10_000)
FEED_FANOUT_BATCH_SIZE = env.int("FEED_FANOUT_BATCH_SIZE", default=1000)

# --- Real time (docs/realtime.md) ----------------------------------------------------------
# /ws/ is served by the same ASGI application as the API. Events travel through a channel
# layer: in the process's memory by default (one server process), through Redis when
# REDIS_URL is set (any number of server processes, Celery workers included).
ASGI_APPLICATION = "config.asgi.application"
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # Channels' in-memory layer, with its per-event sweep made cheap (plaza/core/channel_layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "plaza.core.channel_layers.LocalChannelLayer"}}
# A ticket (POST /api/realtime/ticket/) opens one WebSocket within this many seconds.
REALTIME_TICKET_TTL_SECONDS = env.int("REALTIME_TICKET_TTL_SECONDS", default=30)
# Open WebSockets per user; one more is refused (close code 4429).
REALTIME_MAX_CONNECTIONS_PER_USER = env.int("REALTIME_MAX_CONNECTIONS_PER_USER", default=10)
# Seconds between the server's heartbeats ({"type": "ping"}) on an idle connection.
REALTIME_HEARTBEAT_SECONDS = env.int("REALTIME_HEARTBEAT_SECONDS", default=25)

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["plaza.accounts.backends.UsernameOrEmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# An API token expires after this long without use (sliding expiry, like a session).
TOKEN_IDLE_TTL = timedelta(days=env.int("TOKEN_IDLE_TTL_DAYS", default=90))
# A password reset link works once, for this long (Django's PASSWORD_RESET_TIMEOUT, seconds).
PASSWORD_RESET_TIMEOUT = 60 * env.int("PASSWORD_RESET_TIMEOUT_MINUTES", default=60)
# Where the reset email sends people: the page of your front end that asks for the new
# password and posts it with the uid and token to /api/auth/password/reset/confirm/.
PASSWORD_RESET_LINK = env.str(
    "PASSWORD_RESET_LINK", default="{public_url}/reset-password/?uid={uid}&token={token}"
)

# Email verification: the link in the sign-up email works this long (seconds); where it
# sends people (your front end's page, which posts the token to /api/auth/email/verify/).
EMAIL_VERIFICATION_TIMEOUT = 86400 * env.int("EMAIL_VERIFICATION_TIMEOUT_DAYS", default=3)
EMAIL_VERIFICATION_LINK = env.str(
    "EMAIL_VERIFICATION_LINK", default="{public_url}/verify-email/?token={token}"
)
# On, accounts cannot post, comment, like, follow or message until they confirm their
# address. Off by default so that `make run` works without a mail server.
REQUIRE_VERIFIED_EMAIL = env.bool("REQUIRE_VERIFIED_EMAIL", default=False)

# --- Email ----------------------------------------------------------------------------------
# Printed to the console by default, so `make run` needs no mail server. Production:
# EMAIL_URL=smtp+tls://user:password@smtp.example.com:587 (django-environ's email URLs).
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
# A mail server that stops answering must not hold a request (or a worker) for long.
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Plaza <plaza@localhost>")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Where clients reach Plaza (scheme and host). REST answers make links absolute from each
# request's own host; live events have no request, so theirs (avatars) are made from this.
# Unset, it is where `python -m config.serve` (make run) listens: PLAZA_SERVED_AT, which that
# command sets for the processes it starts.
PUBLIC_URL = env.str(
    "PUBLIC_URL", default=env.str("PLAZA_SERVED_AT", default="http://127.0.0.1:8000")
).rstrip("/")
if urlsplit(PUBLIC_URL).scheme not in ("http", "https") or not urlsplit(PUBLIC_URL).netloc:
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be the http(s) address clients use, like https://plaza.example; "
        f"got {PUBLIC_URL!r}."
    )
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads in S3-compatible object storage instead of MEDIA_ROOT (docs/deployment.md): every
# machine then reads and writes the same files, and the store (or a CDN in front of it) serves
# them. Stored names are random and never reused, so objects are cached for good and written
# without checking for an existing one.
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    _s3_public = urlsplit(env.str("S3_PUBLIC_URL", default=""))
    if _s3_public.netloc and _s3_public.scheme not in ("http", "https"):
        raise ImproperlyConfigured("S3_PUBLIC_URL must be an http(s) address, or unset.")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "addressing_style": env.str("S3_ADDRESSING_STYLE", default="") or None,
            "default_acl": env.str("S3_ACL", default="") or None,
            # Files are public by URL (docs/api.md#media): links carry no signature.
            "querystring_auth": False,
            "file_overwrite": True,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            # Where clients fetch the files (a CDN, or the bucket's public address), if not
            # from the endpoint itself.
            "custom_domain": (_s3_public.netloc + _s3_public.path.rstrip("/")) or None,
            "url_protocol": f"{_s3_public.scheme or 'https'}:",
        },
    }


def positive_int(variable: str, default: int) -> int:
    value = env.int(variable, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{variable}={value} must be 1 or more.")
    return value


# --- Media uploads (docs/api.md, "Media") ---------------------------------------------------
# Bytes per uploaded file; the upload route's body limit is this plus room for the form.
MEDIA_MAX_UPLOAD_BYTES = positive_int("MEDIA_MAX_UPLOAD_BYTES", 16 * 1024 * 1024)
# Decoded pixels per image (width x height, times the frames of an animation): Pillow's
# decompression-bomb guard is set to it, and nothing larger is decoded.
MEDIA_MAX_PIXELS = positive_int("MEDIA_MAX_PIXELS", 40_000_000)
MEDIA_MAX_FRAMES = positive_int("MEDIA_MAX_FRAMES", 300)
# The long side of a stored image and of its preview, in pixels.
MEDIA_MAX_DIMENSION = positive_int("MEDIA_MAX_DIMENSION", 2048)
MEDIA_PREVIEW_DIMENSION = positive_int("MEDIA_PREVIEW_DIMENSION", 640)
# An upload with more decoded pixels than this (width x height x frames) is answered 202 and
# processed in the background (a Celery worker; the process's background thread without one).
MEDIA_BACKGROUND_PIXELS = positive_int("MEDIA_BACKGROUND_PIXELS", 16_000_000)
# Uploads never attached to a post are deleted after this long (`manage.py expire_media`).
MEDIA_UNATTACHED_HOURS = positive_int("MEDIA_UNATTACHED_HOURS", 24)
# Plaza serves MEDIA_ROOT at MEDIA_URL itself, as the embedded default needs; off by default
# with S3_BUCKET, and to be turned off when a proxy serves the directory.
MEDIA_SERVED_BY_PLAZA = env.bool("MEDIA_SERVED_BY_PLAZA", default=not S3_BUCKET)
MEDIA_FORM_OVERHEAD_BYTES = 64 * 1024  # the multipart boundaries, alt text and focus

# --- Request limits -------------------------------------------------------------------------
# The largest request body, enforced on the raw ASGI messages before Django reads them
# (plaza.core.asgi): a Content-Length above it answers 413 at once, a chunked body is cut off
# as soon as it passes it. Django checks it again when a view reads the body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
# Routes that take larger bodies (media uploads): path prefix -> bytes, longest prefix first.
REQUEST_BODY_LIMITS: dict[str, int] = dict.fromkeys(
    ("/api/media/", "/api/me/avatar/", "/api/me/header/"),
    MEDIA_MAX_UPLOAD_BYTES + MEDIA_FORM_OVERHEAD_BYTES,
)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# --- Security -------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Rate limits (docs/api.md#rate-limits) --------------------------------------------------
# Each THROTTLE_<SCOPE> is N/PERIOD: N requests per PERIOD, which is a number (1 if left out)
# of seconds, minutes, hours or days: 10/s, 300/5m, 5/30m, 1000/1d. DRF's own rate format
# has no multiples (5/30m), hence this parser; it runs here so that a typo stops the server at
# start-up rather than failing its requests. Defaults are those of large Mastodon servers.
_RATE_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_throttle_rate(variable: str, value: str) -> tuple[int, int]:
    """A rate as (requests, seconds); ImproperlyConfigured naming `variable` if it is not one."""
    match = re.fullmatch(r"([0-9]+)/([0-9]*)([smhd])", value.strip())
    if match is None or int(match[1]) < 1 or int(match[2] or 1) < 1:
        raise ImproperlyConfigured(
            f"{variable}={value!r} is not a rate. Use N/PERIOD: N (at least 1) requests per "
            "period of seconds (s), minutes (m), hours (h) or days (d), for example 10/s, "
            "300/5m, 5/30m or 1000/1d."
        )
    return int(match[1]), int(match[2] or 1) * _RATE_UNIT_SECONDS[match[3]]


# Scope -> (requests, seconds), read by plaza.core.throttling.
THROTTLE_RATES = {
    scope: parse_throttle_rate(f"THROTTLE_{scope.upper()}", text)
    for scope, text in {
        # Every API request: anonymous ones per client address, signed-in ones per account.
        "anon": env.str("THROTTLE_ANON", default="300/5m"),
        "user": env.str("THROTTLE_USER", default="1500/5m"),
        # Attempts per client address, on top of the above.
        "login": env.str("THROTTLE_LOGIN", default="25/5m"),
        "signup": env.str("THROTTLE_SIGNUP", default="5/30m"),
        # Reset emails asked for one email address; confirmation emails one account asks for.
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/30m"),
        "verification_email": env.str("THROTTLE_VERIFICATION_EMAIL", default="5/30m"),
        # Per account: posts, comments and reposts published (Mastodon: 300 statuses / 3 h), follows
        # (Mastodon: 400 / day), WebSocket tickets.
        "posts": env.str("THROTTLE_POSTS", default="300/3h"),
        "follows": env.str("THROTTLE_FOLLOWS", default="400/1d"),
        "realtime_ticket": env.str("THROTTLE_REALTIME_TICKET", default="60/5m"),
        # Per account: images uploaded (Mastodon: 30 / 30 min).
        "media": env.str("THROTTLE_MEDIA", default="30/30m"),
    }.items()
}
# Reverse proxies in front of Plaza that append the client's address to X-Forwarded-For. 0
# (the default) ignores the header, which clients can forge: per-address limits then count
# REMOTE_ADDR. Behind one proxy (nginx, a load balancer), 1. See docs/deployment.md.
NUM_PROXIES: int = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"NUM_PROXIES={NUM_PROXIES} must be 0 or more.")

# --- Django REST framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "plaza.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "plaza.core.pagination.IdCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["plaza.core.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["plaza.core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "plaza.rest.schema.PlazaAutoSchema",
    "EXCEPTION_HANDLER": "plaza.core.errors.api_exception_handler",
    # Views add their own scopes (login, signup...) to these; rates are THROTTLE_RATES above.
    "DEFAULT_THROTTLE_CLASSES": [
        "plaza.core.throttling.AnonRateThrottle",
        "plaza.core.throttling.UserRateThrottle",
    ],
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 20,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if env.bool("BROWSABLE_API", default=DEBUG):
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(  # type: ignore[attr-defined]
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Plaza API",
    "DESCRIPTION": (
        "The native REST API of Plaza, an open social network server. Authenticate with "
        "`Authorization: Bearer <token>` from `/api/auth/register/` or `/api/auth/login/`. "
        "Ids are strings (64-bit, time-sortable). Lists are cursor-paginated: follow `next`."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/health/'s states, named after it rather than after its fields ("status" and
    # "database" are names other enums may want), and one name for redis's and broker's.
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": ["ok", "degraded"],
        "HealthDatabaseStatusEnum": ["ok"],
        "HealthComponentStatusEnum": ["ok", "down"],
    },
    # The schema documents tokens only: the session cookie works too (a signed-in admin's
    # browser, the browsable API, with CSRF checks), but it is no way for a client app.
    "AUTHENTICATION_WHITELIST": ["plaza.accounts.authentication.TokenAuthentication"],
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
