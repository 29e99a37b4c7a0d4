"""Rate limits: DRF throttles that count requests in fixed windows in the shared cache.

A scope allows `limit` requests per `period` seconds (settings.THROTTLE_RATES, from the
THROTTLE_<SCOPE> variables). Each request adds one to the counter

    throttle:<scope>:<ident>:<window>

where `ident` is the client (address, account or hashed email address) and `window` numbers
the periods since the Unix epoch, so every process on every machine agrees on where a window
starts and ends. In the steady state that is one cache round trip per scope (`incr`); the
first request of a window takes two (`incr` misses, `add` creates the counter). Both are
atomic in Redis and in the local-memory cache.

DRF's SimpleRateThrottle supplies the scopes, the cache, the timer and the client address
(`get_ident`, which honours NUM_PROXIES); its counting does not fit. It keeps the time of every
request in the window as one list per client and writes the list back whole: two round trips,
a value as long as the limit (1,500 floats per user, a million for the benchmarks' limits), and
two processes reading the same list lose each other's requests. The price of a fixed window
(rack-attack's, which Mastodon uses, too) is that a client can spend one window's allowance at
its end and the next one's at the start of the next: up to twice the limit in a short burst,
never more than the limit per window.

Answers carry X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (whole seconds
until the window ends and the full limit is available again) for the most restrictive scope
that counted the request; a throttled answer is a 429 `throttled` error with Retry-After.
If the cache fails, requests are allowed (fail open) and a warning is logged once a minute.
"""

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.utils.crypto import salted_hmac
from django.utils.decorators import sync_and_async_middleware
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from plaza.core.emails import email_key

if TYPE_CHECKING:  # rest_framework.views imports the throttles named in the settings
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# IPv6 clients are counted per /64: one subscriber usually holds a whole /64, and would
# otherwise get a fresh allowance from each of its 2**64 addresses.
IPV6_CLIENT_PREFIX = 64
# The HttpRequest attribute where throttles leave the state the headers report.
_STATE_ATTRIBUTE = "plaza_rate_limit"


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Where a client stands in one scope's current window."""

    limit: int
    remaining: int
    reset: int  # whole seconds until the window ends (at least 1)

    def is_tighter_than(self, other: "RateLimitState") -> bool:
        """Fewer requests left; on a tie, the longer wait (what Retry-After reports)."""
        return (self.remaining, -self.reset) < (other.remaining, -other.reset)


class CacheOutage:
    """A cache that just failed: requests skip it for a few seconds rather than each waiting
    for its timeout (0.5 s with an unreachable Redis), and the warning is logged once a
    minute rather than once a request."""

    SKIP_SECONDS = 5.0
    LOG_INTERVAL_SECONDS = 60.0

    def __init__(self) -> None:
        self.clock = time.monotonic
        self.reset()

    def reset(self) -> None:
        self.failed_at = -math.inf
        self.logged_at = -math.inf

    def is_recent(self) -> bool:
        return self.clock() - self.failed_at < self.SKIP_SECONDS

    def record(self, reason: object) -> None:
        self.failed_at = now = self.clock()
        if now - self.logged_at >= self.LOG_INTERVAL_SECONDS:
            self.logged_at = now
            logger.warning(
                "Rate limits not enforced: the cache is unavailable (%s). Requests are allowed "
                "until it answers again; this is logged at most once a minute.",
                reason,
            )


cache_outage = CacheOutage()  # one per process, shared by every throttle


class WindowRateThrottle(SimpleRateThrottle):
    """Counts a scope's requests per client in fixed windows. Subclasses name the scope and
    say who the client is (`get_ident_for`); `methods` restricts a scope to some actions."""

    scope: str
    cache_format = "throttle:%(scope)s:%(ident)s"
    methods: frozenset[str] | None = None  # None: every method counts

    def __init__(self) -> None:
        # DRF would parse a rate string here; Plaza's rates are parsed by the settings, and
        # read at each request so that tests can override them.
        try:
            self.limit, self.period = settings.THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(
                f"No rate for the throttle scope {self.scope!r} in settings.THROTTLE_RATES."
            ) from exc
        self.reset = self.period

    def get_ident_for(self, request: Request) -> str | None:
        """Who is counted; None leaves the request to other scopes."""
        raise NotImplementedError

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        if self.methods is not None and request.method not in self.methods:
            return None
        ident = self.get_ident_for(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: "APIView") -> bool:
        key = self.get_cache_key(request, view)
        if key is None or cache_outage.is_recent():
            return True
        now = self.timer()
        window = int(now // self.period)
        self.reset = max(1, math.ceil((window + 1) * self.period - now))
        # A second of slack: machines' clocks differ a little about when a window ends.
        count = self._count_request(f"{key}:{window}", ttl=self.reset + 1)
        if count is None:
            return True
        _record_state(request, RateLimitState(self.limit, max(0, self.limit - count), self.reset))
        return count <= self.limit

    def wait(self) -> float:
        """Seconds until the window that refused the request ends (DRF sends Retry-After)."""
        return self.reset

    def _count_request(self, key: str, ttl: int) -> int | None:
        """The window's count including this request; None if the cache cannot tell."""
        try:
            try:
                count = self.cache.incr(key)
            except ValueError:  # the window's first request: no counter yet
                # `add` fails if another request created the counter in between.
                count = 1 if self.cache.add(key, 1, timeout=ttl) else self.cache.incr(key)
        except Exception as exc:  # whatever the backend raises (redis, memcached): fail open
            cache_outage.record(repr(exc))
            return None
        if count is None:  # django-redis with IGNORE_EXCEPTIONS: the error was swallowed
            cache_outage.record("the cache returned nothing")
            return None
        return int(count)


def client_address(throttle: BaseThrottle, request: Request) -> str:
    """The client's address (behind NUM_PROXIES proxies, from X-Forwarded-For), IPv6 reduced
    to its /64. An address that does not parse (a proxy's or a client's garbage) falls back to
    the connection's own address."""
    return _counted_address(throttle.get_ident(request), request.META.get("REMOTE_ADDR"))


# Parsing an address costs more than counting the request in local memory; the same few
# clients send most requests.
@functools.lru_cache(maxsize=4096)
def _counted_address(reported: str | None, connection: str | None) -> str:
    for candidate in (reported, connection):
        try:
            address = ipaddress.ip_address(str(candidate).strip())
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
        return str(address)
    return "unknown"


class ClientAddressThrottle(WindowRateThrottle):
    """Counts per client address."""

    def get_ident_for(self, request: Request) -> str | None:
        return client_address(self, request)


class AccountThrottle(WindowRateThrottle):
    """Counts per signed-in account; anonymous requests are not counted here."""

    def get_ident_for(self, request: Request) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None


# --- Scopes (rates: settings.THROTTLE_RATES) ---------------------------------------------------


class AnonRateThrottle(ClientAddressThrottle):
    """Every anonymous request, per client address (THROTTLE_ANON)."""

    scope = "anon"

    def get_ident_for(self, request: Request) -> str | None:
        if request.user is not None and request.user.is_authenticated:
            return None
        return super().get_ident_for(request)


class UserRateThrottle(AccountThrottle):
    """Every signed-in request, per account (THROTTLE_USER)."""

    scope = "user"


class LoginRateThrottle(ClientAddressThrottle):
    """Sign-in attempts, failed or not, per client address (THROTTLE_LOGIN)."""

    scope = "login"
    methods: frozenset[str] | None = frozenset({"POST"})


class PasswordCheckRateThrottle(LoginRateThrottle):
    """Requests that check a password outside sign-in (changing the email, deleting the
    account, changing the password) spend the sign-in budget of their client address
    (THROTTLE_LOGIN): otherwise each such endpoint would be a fresh allowance of guesses.
    Counted only when the body carries one of `password_fields`, whatever the method."""

    methods = None
    password_fields = ("password", "current_password")

    def get_ident_for(self, request: Request) -> str | None:
        # Only signed-in requests reach a password check here; an anonymous one is refused
        # first (and may be counted while being refused, before its body is ever parsed).
        if request.user is None or not request.user.is_authenticated:
            return None
        data = _parsed_body(request)
        if not any(field in data for field in self.password_fields):
            return None
        return super().get_ident_for(request)


class AccountPasswordCheckRateThrottle(PasswordCheckRateThrottle):
    """The same budget per signed-in account (THROTTLE_LOGIN): a stolen token used from many
    addresses still gets one allowance of guesses at its account's password."""

    cache_format = "throttle:%(scope)s:account:%(ident)s"

    def get_ident_for(self, request: Request) -> str | None:
        if PasswordCheckRateThrottle.get_ident_for(self, request) is None:
            return None
        return str(request.user.pk)


class SignupRateThrottle(ClientAddressThrottle):
    """Accounts registered, or attempted, per client address (THROTTLE_SIGNUP)."""

    scope = "signup"
    methods = frozenset({"POST"})


class PasswordResetRateThrottle(WindowRateThrottle):
    """Password reset requests per email address (THROTTLE_PASSWORD_RESET), for the reset
    endpoint: `throttle_classes = throttles_with(PasswordResetRateThrottle)` on a view whose
    POST body holds `email`. Addresses are compared as accounts compare them, in their
    normal form without case (plaza.core.emails: "x@éxample.com" is "X@xn--xample-9ua.com"),
    and the cache sees only a keyed hash of them (HMAC with SECRET_KEY). A body without an
    email string is not counted here: the view refuses it, and `anon` still counts it."""

    scope = "password_reset"
    methods = frozenset({"POST"})

    def get_ident_for(self, request: Request) -> str | None:
        email = _parsed_body(request).get("email")
        if not isinstance(email, str) or not email.strip():
            return None
        # surrogatepass: a lone surrogate (which the view then refuses) must not crash this.
        address = email_key(email).encode("utf-8", "surrogatepass")
        digest = salted_hmac(self.scope, address, algorithm="sha256")
        return digest.hexdigest()[:32]


class VerificationEmailRateThrottle(AccountThrottle):
    """Address-confirmation emails an account asks for again (THROTTLE_VERIFICATION_EMAIL)."""

    scope = "verification_email"
    methods = frozenset({"POST"})


class PostingRateThrottle(AccountThrottle):
    """Posts, comments and reposts published, per account (THROTTLE_POSTS)."""

    scope = "posts"
    methods = frozenset({"POST"})


class FollowRateThrottle(AccountThrottle):
    """Follows, per account (THROTTLE_FOLLOWS); unfollowing is not limited."""

    scope = "follows"
    methods = frozenset({"POST"})


class RealtimeTicketRateThrottle(AccountThrottle):
    """WebSocket tickets issued, per account (THROTTLE_REALTIME_TICKET)."""

    scope = "realtime_ticket"
    methods = frozenset({"POST"})


class MediaUploadRateThrottle(AccountThrottle):
    """Images uploaded (attachments, avatars, headers), per account (THROTTLE_MEDIA)."""

    scope = "media"
    methods = frozenset({"POST", "PUT"})


def _parsed_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or {} when it is another JSON value. A body that does not
    parse raises DRF's 400 or 415 from here: DRF parses a body once, and a failure swallowed
    here would leave the view reading an empty body."""
    data = request.data
    return data if isinstance(data, dict) else {}


def throttles_with(*scoped: type[BaseThrottle]) -> list[type[BaseThrottle]]:
    """A view's throttle classes: the API-wide ones (`anon`, `user`) and its own scopes."""
    from rest_framework.views import APIView  # not at the top: it imports this module

    return [*APIView.throttle_classes, *scoped]


# --- Headers -----------------------------------------------------------------------------------


def _record_state(request: Request, state: RateLimitState) -> None:
    """Keep the most restrictive state of the request's scopes for its answer's headers."""
    http_request = getattr(request, "_request", request)
    current: RateLimitState | None = getattr(http_request, _STATE_ATTRIBUTE, None)
    if current is None or state.is_tighter_than(current):
        setattr(http_request, _STATE_ATTRIBUTE, state)


def _add_headers(request: HttpRequest, response: HttpResponseBase) -> None:
    state: RateLimitState | None = getattr(request, _STATE_ATTRIBUTE, None)
    if state is not None:
        response["X-RateLimit-Limit"] = str(state.limit)
        response["X-RateLimit-Remaining"] = str(state.remaining)
        response["X-RateLimit-Reset"] = str(state.reset)


@sync_and_async_middleware
def rate_limit_headers_middleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Adds the X-RateLimit-* headers to answers of requests a throttle counted. Native in
    both modes, so that under ASGI it costs no hop to a thread."""
    if iscoroutinefunction(get_response):

        async def add_headers_async(request: HttpRequest) -> HttpResponseBase:
            response: HttpResponseBase = await get_response(request)
            _add_headers(request, response)
            return response

        return add_headers_async

    def add_headers(request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = get_response(request)
        _add_headers(request, response)
        return response

    return add_headers
