"""Settings and deployment safety: production checks pass with a production environment (and
fail without it), a missing SECRET_KEY stops the server, passwords use Argon2, responses carry
security headers, and a crash gives a JSON 500 without a traceback."""

import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.test import AsyncClient, override_settings
from django.urls import get_resolver
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.core import errors
from tests.urls_boom import SECRET_DETAIL

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = PROJECT_ROOT / "config" / "settings.py"
# Every environment variable the settings read, found in the settings themselves.
SETTINGS_VARIABLES = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', SETTINGS_FILE.read_text()))

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(45),  # 60 random characters
    "ALLOWED_HOSTS": "plaza.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "BEHIND_HTTPS_PROXY": "true",
}
INSECURE = {
    "DEBUG": "true",
    "SECRET_KEY": "short-and-guessable",
    "ALLOWED_HOSTS": "",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
}
DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
DUMPED_SETTINGS = [
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "DATABASES",
    "PASSWORD_HASHERS",
    "PUBLIC_URL",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_USE_TLS",
    "REQUIRE_VERIFIED_EMAIL",
    "STORAGES",
    "MEDIA_SERVED_BY_PLAZA",
]
DUMP = (
    "import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {DUMPED_SETTINGS!r}}}, "
    "default=str))"
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def settings(self) -> dict:
        assert self.returncode == 0, self.output
        return json.loads(self.stdout.strip().splitlines()[-1])


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without anything Plaza's settings read, plus `variables`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES and not name.startswith("DJANGO_")
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(variables)
    return env


@pytest.fixture(scope="module")
def fresh_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the settings package in a directory with no `.env`, as on a server."""
    root = tmp_path_factory.mktemp("fresh")
    (root / "config").mkdir()
    (root / "config" / "__init__.py").write_text("")
    shutil.copy(SETTINGS_FILE, root / "config" / "settings.py")
    return root


@pytest.fixture(scope="module")
def runs(fresh_checkout: Path) -> dict[str, Run]:
    """Every subprocess this module needs, started at once (each costs a Python start-up)."""
    python = sys.executable
    jobs: dict[str, tuple[list[str], dict[str, str], Path]] = {
        "deploy-production": ([python, *DEPLOY_CHECK], environment(**PRODUCTION), PROJECT_ROOT),
        "deploy-insecure": (
            [python, *DEPLOY_CHECK],
            environment(**{**PRODUCTION, **INSECURE}),
            PROJECT_ROOT,
        ),
        "deploy-partial-hsts": (
            [python, *DEPLOY_CHECK],
            environment(
                **{
                    **PRODUCTION,
                    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
                    "SECURE_HSTS_PRELOAD": "false",
                }
            ),
            PROJECT_ROOT,
        ),
        "settings-production": (
            [python, "-c", DUMP],
            environment(
                **PRODUCTION,
                CSRF_TRUSTED_ORIGINS="https://plaza.example.com,https://www.plaza.example.com",
                DATABASE_URL="postgres://plaza:s3cret@db.example.com:5432/plaza",
                PUBLIC_URL="https://plaza.example.com/",
                EMAIL_URL="smtp+tls://plaza:s3cret@smtp.example.com:587",
                REQUIRE_VERIFIED_EMAIL="on",
            ),
            PROJECT_ROOT,
        ),
        "public-url-without-scheme": (
            [python, "manage.py", "check"],
            environment(**PRODUCTION, PUBLIC_URL="plaza.example.com"),
            PROJECT_ROOT,
        ),
        "no-secret-key": (
            [python, "manage.py", "check"],
            environment(SECRET_KEY=""),  # set but empty: no `.env` value fills it in
            PROJECT_ROOT,
        ),
        "no-secret-key-debug": (
            [python, "manage.py", "check"],
            environment(SECRET_KEY="", DEBUG="true"),
            PROJECT_ROOT,
        ),
        "debug-no-key-distributed": (
            [python, "manage.py", "check"],
            environment(SECRET_KEY="", DEBUG="true", REDIS_URL="redis://127.0.0.1:1/0"),
            PROJECT_ROOT,
        ),
        **{
            f"debug-key-{start}": (
                [python, "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
                environment(SECRET_KEY="", DEBUG="true"),
                PROJECT_ROOT,
            )
            for start in (1, 2)
        },
        "fresh-no-secret-key": (
            [python, "-c", "import config.settings"],
            environment(),  # no SECRET_KEY at all, and no .env beside the settings
            fresh_checkout,
        ),
        "fresh-defaults": (
            [python, "-c", DUMP],
            environment(SECRET_KEY=PRODUCTION["SECRET_KEY"]),
            fresh_checkout,
        ),
        # Each server's entry point, imported as the server imports it, on the SQLite default.
        "sqlite-wsgi": (
            [python, "-c", f"import config.wsgi; {DUMP}"],
            environment(SECRET_KEY=PRODUCTION["SECRET_KEY"]),
            PROJECT_ROOT,
        ),
        "sqlite-wsgi-no-reuse": (
            [python, "-c", f"import config.wsgi; {DUMP}"],
            environment(SECRET_KEY=PRODUCTION["SECRET_KEY"], CONN_MAX_AGE="0"),
            PROJECT_ROOT,
        ),
        "sqlite-asgi": (
            [python, "-c", f"import config.asgi; {DUMP}"],
            environment(SECRET_KEY=PRODUCTION["SECRET_KEY"]),
            PROJECT_ROOT,
        ),
        "s3": (
            [python, "-c", DUMP],
            environment(
                SECRET_KEY=PRODUCTION["SECRET_KEY"],
                S3_BUCKET="plaza-media",
                S3_ENDPOINT_URL="https://s3.example.net",
                S3_REGION="eu-central-1",
                S3_ACCESS_KEY_ID="plaza",
                S3_SECRET_ACCESS_KEY="plaza-secret",
                S3_PUBLIC_URL="https://media.plaza.example/files/",
            ),
            PROJECT_ROOT,
        ),
        "sqlite-conn-max-age": (
            [python, "-c", DUMP],
            environment(SECRET_KEY=PRODUCTION["SECRET_KEY"], CONN_MAX_AGE="30"),
            PROJECT_ROOT,
        ),
    }
    processes = {
        name: subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (command, env, cwd) in jobs.items()
    }
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = Run(process.returncode, stdout, stderr)
    return results


# --- manage.py check --deploy -------------------------------------------------------------


def test_deploy_check_passes_with_a_production_environment(runs: dict[str, Run]) -> None:
    run = runs["deploy-production"]
    assert run.returncode == 0, run.output
    assert "no issues" in run.output


def test_deploy_check_fails_without_the_production_settings(runs: dict[str, Run]) -> None:
    run = runs["deploy-insecure"]
    assert run.returncode != 0
    for warning in (
        "security.W004",  # no HSTS
        "security.W008",  # no SSL redirect
        "security.W009",  # weak SECRET_KEY
        "security.W012",  # session cookie not secure
        "security.W016",  # CSRF cookie not secure
        "security.W018",  # DEBUG on
        "security.W020",  # ALLOWED_HOSTS empty
    ):
        assert warning in run.output, (warning, run.output)


def test_deploy_check_wants_full_hsts(runs: dict[str, Run]) -> None:
    run = runs["deploy-partial-hsts"]
    assert run.returncode != 0
    assert "security.W005" in run.output  # not including subdomains
    assert "security.W021" in run.output  # not preloaded


def test_production_environment_reaches_the_settings(runs: dict[str, Run]) -> None:
    values = runs["settings-production"].settings()
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["plaza.example.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == [
        "https://plaza.example.com",
        "https://www.plaza.example.com",
    ]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    database = values["DATABASES"]["default"]
    # Django's PostgreSQL backend, pool on, refusing requests at once during an outage.
    assert database["ENGINE"] == "plaza.core.postgresql"
    assert database["OPTIONS"]["pool"]["reconnect_timeout"] == 5.0
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.example.com",
        5432,
        "plaza",
    )
    assert (database["USER"], database["PASSWORD"]) == ("plaza", "s3cret")
    assert values["PUBLIC_URL"] == "https://plaza.example.com"  # links append paths to it
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("smtp.example.com", 587)
    assert (values["EMAIL_HOST_USER"], values["EMAIL_USE_TLS"]) == ("plaza", True)
    assert values["REQUIRE_VERIFIED_EMAIL"] is True


def test_defaults_are_safe_for_a_fresh_checkout(runs: dict[str, Run], fresh_checkout: Path) -> None:
    values = runs["fresh-defaults"].settings()
    assert values["DEBUG"] is False  # off unless set
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # a client cannot claim HTTPS
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]).parent == fresh_checkout
    assert values["PUBLIC_URL"] == "http://127.0.0.1:8000"  # where `make run` serves
    # Emails are printed, and nobody needs a mail server to post.
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["REQUIRE_VERIFIED_EMAIL"] is False
    # Uploads on local disk, served by Plaza itself.
    assert values["STORAGES"]["default"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }
    assert values["MEDIA_SERVED_BY_PLAZA"] is True


def test_s3_settings_put_uploads_in_the_object_store(runs: dict[str, Run]) -> None:
    values = runs["s3"].settings()
    assert values["STORAGES"]["default"] == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "plaza-media",
            "endpoint_url": "https://s3.example.net",
            "region_name": "eu-central-1",
            "access_key": "plaza",
            "secret_key": "plaza-secret",
            "addressing_style": None,
            "default_acl": None,
            "querystring_auth": False,
            "file_overwrite": True,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            "custom_domain": "media.plaza.example/files",
            "url_protocol": "https:",
        },
    }
    assert values["MEDIA_SERVED_BY_PLAZA"] is False  # the store, or a CDN, serves them


def test_wsgi_servers_keep_database_connections_and_asgi_servers_do_not(
    runs: dict[str, Run],
) -> None:
    def conn_max_age(name: str) -> int | None:
        database = runs[name].settings()["DATABASES"]["default"]
        assert database["ENGINE"] == "django.db.backends.sqlite3", name
        return database["CONN_MAX_AGE"]

    # A WSGI worker serves one request at a time on a thread of its own: a connection kept
    # from one request to the next spares each one SQLite's set-up and a cold page cache.
    assert conn_max_age("sqlite-wsgi") == 600
    # Under ASGI the next request's sync code may run on another thread: one per request.
    assert conn_max_age("sqlite-asgi") == 0
    # The environment decides when it says, on SQLite as on PostgreSQL.
    assert conn_max_age("sqlite-wsgi-no-reuse") == 0
    assert conn_max_age("sqlite-conn-max-age") == 30


def test_a_public_url_without_scheme_refuses_to_start(runs: dict[str, Run]) -> None:
    run = runs["public-url-without-scheme"]
    assert run.returncode != 0
    assert "PUBLIC_URL must be the http(s) address clients use" in run.stderr, run.output


# --- SECRET_KEY -----------------------------------------------------------------------------


def test_missing_secret_key_refuses_to_start(runs: dict[str, Run]) -> None:
    for name in ("no-secret-key", "fresh-no-secret-key"):
        run = runs[name]
        assert run.returncode != 0, (name, run.output)
        assert "ImproperlyConfigured" in run.stderr, (name, run.output)
        assert "SECRET_KEY is not set" in run.stderr, (name, run.output)


def test_debug_runs_without_a_secret_key(runs: dict[str, Run]) -> None:
    run = runs["no-secret-key-debug"]
    assert run.returncode == 0, run.output


def test_debug_without_a_secret_key_makes_a_random_one_per_start(runs: dict[str, Run]) -> None:
    """A constant fallback key would let anyone forge tokens and reset links on every server
    started with DEBUG on and no key; each start gets its own instead."""
    keys = []
    for start in (1, 2):
        run = runs[f"debug-key-{start}"]
        assert run.returncode == 0, run.output
        keys.append(run.stdout.strip().splitlines()[-1])
    assert keys[0] != keys[1]
    assert all(len(key) >= 50 for key in keys)


def test_debug_without_a_secret_key_refuses_several_processes(runs: dict[str, Run]) -> None:
    """With REDIS_URL, server workers and Celery workers must share one key: a random one
    each would break every link and ticket that crosses processes."""
    run = runs["debug-no-key-distributed"]
    assert run.returncode != 0, run.output
    assert "With REDIS_URL, several processes" in run.stderr


# --- Passwords ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.real_password_hashing
def test_passwords_are_hashed_with_argon2() -> None:
    password = "a perfectly fine passphrase 7"
    client = APIClient()
    response = client.post(
        "/api/auth/register/",
        {"username": "hashed", "email": "hashed@example.com", "password": password},
        format="json",
    )
    assert response.status_code == 201, response.content
    user = User.objects.get(username="hashed")
    assert user.password.startswith("argon2$argon2id$")
    assert identify_hasher(user.password).algorithm == "argon2"
    assert password not in user.password
    login = client.post(
        "/api/auth/login/", {"username": "hashed", "password": password}, format="json"
    )
    assert login.status_code == 200


# --- Security headers -----------------------------------------------------------------------


def assert_security_headers(response: object) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]
    assert response["X-Frame-Options"] == "DENY"  # type: ignore[index]
    assert response["Referrer-Policy"] == "same-origin"  # type: ignore[index]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status", "token"),
    [
        ("get", "/api/health/", 200, None),
        ("get", "/api/posts/", 200, None),
        ("get", "/api/me/", 401, None),
        ("get", "/api/me/", 401, "Token not-a-token"),
        ("get", "/api/posts/1/", 404, None),
        ("get", "/api/nowhere/", 404, None),
        ("delete", "/api/feed/", 401, None),
        ("post", "/api/auth/login/", 400, None),
    ],
)
def test_responses_carry_security_headers(
    method: str, path: str, status: int, token: str | None
) -> None:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=token)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == status
    assert_security_headers(response)


@pytest.mark.django_db
def test_https_settings_redirect_and_send_hsts() -> None:
    with override_settings(
        ALLOWED_HOSTS=["plaza.example.com"],
        SECURE_SSL_REDIRECT=True,
        SECURE_HSTS_SECONDS=31536000,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
        SECURE_HSTS_PRELOAD=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    ):
        client = APIClient(HTTP_HOST="plaza.example.com")
        plain = client.get("/api/posts/")
        assert plain.status_code == 301
        assert plain["Location"] == "https://plaza.example.com/api/posts/"

        secure = client.get("/api/posts/", HTTP_X_FORWARDED_PROTO="https")
        assert secure.status_code == 200
        assert secure["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        assert_security_headers(secure)

        # Load balancers probe the health check over plain HTTP.
        assert client.get("/api/health/").status_code == 200

        # Any other host is refused, with the JSON error shape.
        other = APIClient(HTTP_HOST="evil.example.com").get(
            "/api/posts/", HTTP_X_FORWARDED_PROTO="https"
        )
        assert other.status_code == 400
        assert set(other.json()) == {"code", "message", "fields"}


# --- Crashes --------------------------------------------------------------------------------


def test_root_urlconf_uses_the_json_error_handlers() -> None:
    resolver = get_resolver()
    assert resolver.resolve_error_handler(400) is errors.bad_request
    assert resolver.resolve_error_handler(403) is errors.permission_denied
    assert resolver.resolve_error_handler(404) is errors.not_found
    assert resolver.resolve_error_handler(500) is errors.server_error


@pytest.fixture
def crash_client() -> Iterator[APIClient]:
    with override_settings(DEBUG=False, DEBUG_PROPAGATE_EXCEPTIONS=False):
        client = APIClient()
        client.raise_request_exception = False
        yield client


@pytest.mark.urls("tests.urls_boom")
@pytest.mark.parametrize("path", ["/boom/drf/", "/boom/django/"])
def test_unhandled_exception_is_a_json_500_without_traceback(
    crash_client: APIClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = crash_client.get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "server_error"
    assert body["fields"] == {}
    text = response.content.decode()
    for leak in (SECRET_DETAIL, "Traceback", "Error:", 'File "', "urls_boom", "line "):
        assert leak not in text, leak
    assert_security_headers(response)
    # The operator, unlike the client, gets the details.
    assert any(
        record.exc_info and SECRET_DETAIL in str(record.exc_info[1]) for record in caplog.records
    )


@pytest.mark.urls("tests.urls_boom")
@pytest.mark.parametrize("path", ["/boom/drf/", "/boom/django/"])
def test_crash_under_asgi_is_a_json_500_too(path: str) -> None:
    with override_settings(DEBUG=False, DEBUG_PROPAGATE_EXCEPTIONS=False):
        client = AsyncClient()
        client.raise_request_exception = False
        response = async_to_sync(client.get)(path)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["code"] == "server_error"
    assert SECRET_DETAIL not in body["message"]


@pytest.mark.urls("tests.urls_boom")
@pytest.mark.parametrize("path", ["/boom/database/", "/boom/django-database/"])
def test_database_outage_is_a_503_with_retry_after(crash_client: APIClient, path: str) -> None:
    # Through DRF's views and outside them (the admin, the API docs page) alike.
    response = crash_client.get(path)
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "fields"}
    assert SECRET_DETAIL not in response.content.decode()


@pytest.mark.urls("tests.urls_boom")
@pytest.mark.django_db
def test_plaza_routes_still_work_in_the_test_urlconf(crash_client: APIClient) -> None:
    # Guards the two tests above: the test urlconf really is Plaza's plus the crashing views.
    assert crash_client.get("/api/health/").status_code == 200
    assert crash_client.get("/api/nowhere/").json()["code"] == "not_found"


def test_settings_under_test_are_not_debug() -> None:
    assert settings.DEBUG is False
