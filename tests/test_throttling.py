"""Rate limits (plaza.core.throttling): limits reached answer 429 with Retry-After and the
X-RateLimit-* headers, every counted answer carries the headers, clients are told apart by
address (IPv6 by /64, X-Forwarded-For only behind NUM_PROXIES proxies) or by account, the
scoped limits (login, sign-up, posting, follows, tickets, password reset) come on top of the
API-wide ones, windows end on time, THROTTLE_* settings are parsed or refused at start-up, and
a cache that is down or unreachable lets every request through.

Time is a fake clock in place of the throttles' timer: windows are fixed periods since the
epoch, so each test starts its clock at a known second of a window.
"""

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from config.settings import parse_throttle_rate
from plaza.accounts.models import User
from plaza.core import throttling
from plaza.core.throttling import (
    AnonRateThrottle,
    CacheOutage,
    PasswordResetRateThrottle,
    WindowRateThrottle,
    cache_outage,
)
from plaza.posts.models import Post
from plaza.rest.passwords import PasswordResetView
from tests.factories import TEST_PASSWORD, PostFactory, UserFactory, token_for
from tests.servers import start_redis, stop_redis

pytestmark = pytest.mark.django_db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WINDOW_START = 20_833 * 86_400.0  # a multiple of every period used below (up to a day)
PASSWORD = "correct-horse-battery-staple"


class FakeClock:
    """Stands in for time.time. An instance, not a function, so that as a class attribute
    (`timer`) it is not bound as a method."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The throttles' clock, 10 seconds into a window of every period used here."""
    fake = FakeClock(WINDOW_START + 10)
    monkeypatch.setattr(WindowRateThrottle, "timer", fake)
    return fake


@pytest.fixture
def rates(clock: FakeClock) -> Iterator[Callable[..., None]]:
    """Set some scopes' rates, as (limit, period in seconds); the others stay far away."""
    overrides: list[override_settings] = []

    def set_rates(**scopes: tuple[int, int]) -> None:
        override = override_settings(THROTTLE_RATES={**settings.THROTTLE_RATES, **scopes})
        override.enable()
        overrides.append(override)

    yield set_rates
    for override in reversed(overrides):
        override.disable()


def rate_headers(response: Any) -> dict[str, str]:
    return {
        name: response[name]
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
        if name in response
    }


def headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


def signed_in(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


# --- Limits, headers, windows --------------------------------------------------------------


def test_the_request_over_the_limit_is_a_429_with_retry_after(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(anon=(3, 60))
    for remaining in (2, 1, 0):
        response = api_client.get("/api/posts/")
        assert response.status_code == 200
        assert rate_headers(response) == headers(3, remaining, 50)

    refused = api_client.get("/api/posts/")

    assert refused.status_code == 429
    assert refused.json() == {
        "code": "throttled",
        "message": "Request was throttled. Expected available in 50 seconds.",
        "fields": {},
    }
    assert refused["Retry-After"] == "50"
    assert rate_headers(refused) == headers(3, 0, 50)


def test_the_limit_comes_back_when_the_window_ends(
    rates: Callable[..., None], clock: FakeClock, api_client: APIClient
) -> None:
    rates(anon=(2, 60))
    for _ in range(2):
        assert api_client.get("/api/posts/").status_code == 200

    clock.now = WINDOW_START + 59.5  # half a second left: Retry-After rounds up
    still_refused = api_client.get("/api/posts/")
    assert still_refused.status_code == 429
    assert still_refused["Retry-After"] == "1"

    clock.now = WINDOW_START + 60  # the next window
    again = api_client.get("/api/posts/")
    assert again.status_code == 200
    assert rate_headers(again) == headers(2, 1, 60)


def test_multi_unit_periods_count_over_the_whole_period(
    rates: Callable[..., None], clock: FakeClock, api_client: APIClient
) -> None:
    rates(anon=(1, 30 * 60))  # 1/30m
    assert api_client.get("/api/posts/").status_code == 200
    clock.now = WINDOW_START + 29 * 60
    refused = api_client.get("/api/posts/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    clock.now = WINDOW_START + 30 * 60
    assert api_client.get("/api/posts/").status_code == 200


def test_the_counter_is_one_cache_key_per_scope_client_and_window(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(anon=(5, 60))
    api_client.get("/api/posts/")
    api_client.get("/api/posts/")
    window = int(WINDOW_START // 60)
    assert cache.get(f"throttle:anon:127.0.0.1:{window}") == 2


def test_signed_in_answers_carry_the_user_scope_headers(
    rates: Callable[..., None], user: User
) -> None:
    rates(user=(1500, 300))
    response = signed_in(user).get("/api/feed/")
    assert response.status_code == 200
    assert rate_headers(response) == headers(1500, 1499, 290)


def test_headers_describe_the_most_restrictive_scope(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(anon=(100, 300), login=(3, 300))
    response = api_client.post(
        "/api/auth/login/", {"username": "nobody", "password": "wrong-password"}
    )
    assert response.status_code == 400
    assert rate_headers(response) == headers(3, 2, 290)


def test_the_health_check_is_never_rate_limited(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(anon=(1, 60))
    for _ in range(5):
        response = api_client.get("/api/health/")
        assert response.status_code == 200
        assert rate_headers(response) == {}


def test_concurrent_requests_are_all_counted(clock: FakeClock) -> None:
    """incr is atomic: no request is lost between threads (DRF's read-then-write history
    would lose some)."""
    view, request = APIView(), Request(APIRequestFactory().get("/", REMOTE_ADDR="10.9.9.9"))
    assert not request.user.is_authenticated
    allowed: list[bool] = []

    def work() -> None:
        for _ in range(25):
            throttle = AnonRateThrottle()
            throttle.limit, throttle.period = 100, 3600
            allowed.append(throttle.allow_request(request, view))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100
    assert allowed.count(False) == 100


# --- Who is counted ------------------------------------------------------------------------


def test_anonymous_clients_are_counted_per_address(
    rates: Callable[..., None], api_client: APIClient, user: User
) -> None:
    rates(anon=(2, 60))
    for _ in range(2):
        assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.1").status_code == 429

    assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.2").status_code == 200
    # A signed-in user at the exhausted address is counted as the user.
    assert signed_in(user).get("/api/posts/", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_signed_in_users_are_counted_per_account_wherever_they_are(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(user=(2, 60), anon=(100, 60))
    ada, grace = signed_in(UserFactory.create()), signed_in(UserFactory.create())
    assert ada.get("/api/feed/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert ada.get("/api/feed/", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert ada.get("/api/feed/", REMOTE_ADDR="10.0.0.3").status_code == 429

    assert grace.get("/api/feed/", REMOTE_ADDR="10.0.0.1").status_code == 200
    # Anonymous requests from the same address have their own allowance.
    assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_x_forwarded_for_is_ignored_without_proxies(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    """NUM_PROXIES=0, the default: the header is the client's to forge."""
    rates(anon=(2, 60))
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}):
        for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            response = api_client.get("/api/posts/", HTTP_X_FORWARDED_FOR=forged)
        assert response.status_code == 429


def test_behind_one_proxy_the_address_it_appends_is_counted(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(anon=(1, 60))

    def through_proxy(forwarded_for: str, proxy: str = "10.0.0.1") -> int:
        response = api_client.get(
            "/api/posts/", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded_for
        )
        return int(response.status_code)

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        # The proxy appends each client's address; what a client put in the header before
        # it does not matter.
        assert through_proxy("1.1.1.1, 203.0.113.1") == 200
        assert through_proxy("9.9.9.9, 203.0.113.1") == 429
        assert through_proxy("203.0.113.2") == 200
        # Garbage where an address should be: the connection's address is counted.
        assert through_proxy("not-an-address", proxy="10.0.0.9") == 200
        assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.9").status_code == 429


def test_ipv6_clients_are_counted_per_64(rates: Callable[..., None], api_client: APIClient) -> None:
    rates(anon=(2, 60))
    assert api_client.get("/api/posts/", REMOTE_ADDR="2001:db8:0:1::1").status_code == 200
    assert api_client.get("/api/posts/", REMOTE_ADDR="2001:db8:0:1:ffff::2").status_code == 200
    assert api_client.get("/api/posts/", REMOTE_ADDR="2001:db8:0:1::3").status_code == 429
    assert api_client.get("/api/posts/", REMOTE_ADDR="2001:db8:0:2::1").status_code == 200
    # An IPv4 client seen through an IPv6 socket is the IPv4 address.
    assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.7").status_code == 200
    assert api_client.get("/api/posts/", REMOTE_ADDR="::ffff:10.0.0.7").status_code == 200
    assert api_client.get("/api/posts/", REMOTE_ADDR="10.0.0.7").status_code == 429


# --- Scoped limits -------------------------------------------------------------------------


def login(client: APIClient, username: str, password: str, address: str = "10.0.0.1") -> Any:
    body = {"username": username, "password": password}
    return client.post("/api/auth/login/", body, REMOTE_ADDR=address)


@pytest.mark.real_rate_limits
def test_sign_in_attempts_are_limited_per_address(clock: FakeClock, api_client: APIClient) -> None:
    """25 attempts per 5 minutes (THROTTLE_LOGIN), failed or not."""
    UserFactory.create(username="ada")
    for _ in range(25):
        assert login(api_client, "ada", "wrong-password").status_code == 400
    refused = login(api_client, "ada", TEST_PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "290"
    assert rate_headers(refused) == headers(25, 0, 290)

    assert login(api_client, "ada", TEST_PASSWORD, address="10.0.0.2").status_code == 200


@pytest.mark.real_rate_limits
def test_sign_ups_are_limited_per_address(clock: FakeClock, api_client: APIClient) -> None:
    """5 per 30 minutes (THROTTLE_SIGNUP)."""

    def sign_up(name: str, address: str = "10.0.0.1") -> Any:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return api_client.post("/api/auth/register/", body, REMOTE_ADDR=address)

    for number in range(5):
        assert sign_up(f"newcomer{number}").status_code == 201
    refused = sign_up("newcomer5")
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(30 * 60 - 10)
    assert not User.objects.filter(username="newcomer5").exists()

    assert sign_up("newcomer5", address="10.0.0.2").status_code == 201


def test_posting_is_limited_per_account_and_reading_is_not(
    rates: Callable[..., None], user: User
) -> None:
    rates(posts=(2, 3600))
    client = signed_in(user)
    post = PostFactory.create()
    assert client.post("/api/posts/", {"title": "1", "content": "x"}).status_code == 201
    comment = client.post(f"/api/posts/{post.pk}/comments/", {"content": "a comment"})
    assert comment.status_code == 201

    refused = client.post("/api/posts/", {"title": "3", "content": "x"})
    assert refused.status_code == 429
    assert rate_headers(refused) == headers(2, 0, 3590)
    assert not Post.objects.filter(title="3").exists()
    assert client.get("/api/posts/").status_code == 200
    assert (
        signed_in(UserFactory.create())
        .post("/api/posts/", {"title": "4", "content": "x"})
        .status_code
        == 201
    )


def test_a_repost_counts_as_posting_and_taking_it_back_does_not(
    rates: Callable[..., None], user: User
) -> None:
    rates(posts=(1, 3600))
    client = signed_in(user)
    post = PostFactory.create()
    assert client.post(f"/api/posts/{post.pk}/repost/").status_code == 201
    assert client.delete(f"/api/posts/{post.pk}/repost/").status_code == 204

    assert client.post(f"/api/posts/{post.pk}/repost/").status_code == 429
    assert client.post("/api/posts/", {"title": "2", "content": "x"}).status_code == 429


def test_follows_are_limited_per_account_and_unfollowing_is_not(
    rates: Callable[..., None], user: User
) -> None:
    rates(follows=(1, 86400))
    client = signed_in(user)
    ada, grace = UserFactory.create(), UserFactory.create()
    assert client.post(f"/api/users/{ada.username}/follow/").status_code == 201
    assert client.post(f"/api/users/{grace.username}/follow/").status_code == 429
    assert client.delete(f"/api/users/{ada.username}/follow/").status_code == 204


def test_websocket_tickets_are_limited_per_account(rates: Callable[..., None], user: User) -> None:
    rates(realtime_ticket=(1, 300))
    client = signed_in(user)
    assert client.post("/api/realtime/ticket/").status_code == 201
    assert client.post("/api/realtime/ticket/").status_code == 429


def test_password_reset_requests_are_limited_per_email_address(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    rates(password_reset=(2, 1800))

    def ask(body: object, address: str = "10.0.0.1") -> int:
        path = "/api/auth/password/reset/"
        return int(api_client.post(path, body, format="json", REMOTE_ADDR=address).status_code)

    assert ask({"email": "ada@example.com"}) == 202
    # The same address, however written, from anywhere.
    assert ask({"email": "  ADA@Example.com "}, address="10.0.0.2") == 202
    assert ask({"email": "ada@example.com"}, address="10.0.0.3") == 429
    assert ask({"email": "grace@example.com"}) == 202
    # Bodies without an address are left to the view (which refuses them) and other scopes.
    for body in ({}, {"email": 42}, {"email": ""}, ["ada@example.com"]):
        assert ask(body) == 400
    # The cache never sees the address itself, only a keyed hash of it.
    window = int(WINDOW_START // 1800)
    assert cache.get(f"throttle:password_reset:ada@example.com:{window}") is None
    body = {"email": "ada@example.com"}
    request = Request(APIRequestFactory().post("/reset/", body, format="json"))
    request.parsers = PasswordResetView().get_parsers()
    ident = PasswordResetRateThrottle().get_ident_for(request)
    assert ident is not None
    assert "@" not in ident
    assert cache.get(f"throttle:password_reset:{ident}:{window}") == 3


def test_password_reset_limits_count_one_mailbox_once_however_it_is_spelled(
    rates: Callable[..., None], api_client: APIClient
) -> None:
    """Spellings of one address (its domain in Unicode or as an A-label, full-width letters)
    reach one mailbox: they share one limit, or a victim's inbox could be flooded."""
    rates(password_reset=(2, 1800))
    path = "/api/auth/password/reset/"
    for email in ("x@éxample.com", "X@xn--xample-9ua.com"):
        assert api_client.post(path, {"email": email}, format="json").status_code == 202
    full_width = "x@\u00e9\uff58\uff41\uff4d\uff50\uff4c\uff45.com"  # "xample" in full width
    refused = api_client.post(path, {"email": full_width}, format="json")
    assert refused.status_code == 429


def test_confirmation_emails_are_limited_per_account(
    rates: Callable[..., None], user: User
) -> None:
    rates(verification_email=(1, 1800))
    client = signed_in(user)
    assert client.post("/api/auth/email/verify/resend/").status_code == 202
    assert client.post("/api/auth/email/verify/resend/").status_code == 429
    assert signed_in(UserFactory.create()).post("/api/auth/email/verify/resend/").status_code == 202


def test_password_change_guesses_count_as_sign_in_attempts(
    rates: Callable[..., None], user: User
) -> None:
    rates(login=(2, 300))
    client = signed_in(user)
    guess = {"current_password": "a guess", "new_password": "a new passphrase 1"}
    for _ in range(2):
        assert client.post("/api/auth/password/change/", guess).status_code == 400
    assert client.post("/api/auth/password/change/", guess).status_code == 429


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", {"email": "moved@example.com", "current_password": "a guess"}),
        ("delete", {"password": "a guess"}),
    ],
)
def test_every_password_check_spends_the_sign_in_budget(
    rates: Callable[..., None], user: User, api_client: APIClient, method: str, body: dict
) -> None:
    """A stolen token must not buy unlimited guesses at the password through the endpoints
    that check it: they share the sign-in attempts of the address."""
    rates(login=(3, 300))
    assert api_client.post("/api/auth/login/", {"login": "x", "password": "y"}).status_code == 400
    client = signed_in(user)
    for _ in range(2):
        assert getattr(client, method)("/api/me/", body).status_code == 400
    refused = getattr(client, method)("/api/me/", body)
    assert refused.status_code == 429
    assert "Retry-After" in refused
    # Sign-in from the same address is now over the budget too.
    assert api_client.post("/api/auth/login/", {"login": "x", "password": "y"}).status_code == 429


def test_password_guesses_are_limited_per_account_from_any_address(
    rates: Callable[..., None], user: User
) -> None:
    rates(login=(2, 300))
    body = {"password": "a guess"}
    for n in range(2):
        client = signed_in(user)
        response = client.delete("/api/me/", body, REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 400
    refused = signed_in(user).delete("/api/me/", body, REMOTE_ADDR="198.51.100.9")
    assert refused.status_code == 429


def test_profile_edits_without_a_password_spend_no_sign_in_attempt(
    rates: Callable[..., None], user: User
) -> None:
    rates(login=(1, 300))
    client = signed_in(user)
    for name in ("Ada", "Ada L.", "Ada Lovelace"):
        assert client.patch("/api/me/", {"display_name": name}).status_code == 200


# --- Settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/s", (10, 1)),
        ("300/5m", (300, 300)),
        ("5/30m", (5, 1800)),
        ("1500/5m", (1500, 300)),
        ("25/1h", (25, 3600)),
        ("1000/1d", (1000, 86400)),
        ("1000000/1m", (1_000_000, 60)),
        (" 300/5m ", (300, 300)),
    ],
)
def test_rates_are_n_per_period(text: str, rate: tuple[int, int]) -> None:
    assert parse_throttle_rate("THROTTLE_ANON", text) == rate


@pytest.mark.parametrize(
    "text",
    [
        "",
        "300",
        "300/",
        "/5m",
        "300/5",
        "300/5x",
        "300/5min",
        "300/minute",
        "abc/5m",
        "0/5m",
        "5/0m",
        "-1/5m",
        "5/-1m",
        "1.5/m",
        "5 /30m",
        "5/30 m",
        "\uff15/m",
        "300/5m/1",
    ],
)
def test_anything_else_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_throttle_rate("THROTTLE_LOGIN", text)
    assert str(refused.value).startswith(f"THROTTLE_LOGIN={text!r} is not a rate.")
    assert "300/5m" in str(refused.value)


DUMP_RATES = (
    "import json, config.settings as s; "
    "print(json.dumps([s.THROTTLE_RATES, s.REST_FRAMEWORK['NUM_PROXIES']]))"
)


@pytest.fixture(scope="module")
def settings_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """The settings module loaded in fresh interpreters, with THROTTLE_* from the
    environment (all at once: each costs a Python start-up)."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("THROTTLE_", "DJANGO_")) and name != "NUM_PROXIES"
    }
    variants = {
        "defaults": {},
        "custom": {"THROTTLE_ANON": "1000000/1m", "THROTTLE_SIGNUP": "2/1h", "NUM_PROXIES": "1"},
        "invalid": {"THROTTLE_PASSWORD_RESET": "5/30min"},
    }
    processes = {
        name: subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", DUMP_RATES],
            cwd=PROJECT_ROOT,
            env={**base, "SECRET_KEY": "x" * 50, **variables},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, variables in variants.items()
    }
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return results


def test_default_rates_are_the_large_servers_ones(
    settings_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    run = settings_runs["defaults"]
    assert run.returncode == 0, run.stderr
    rates, num_proxies = json.loads(run.stdout)
    assert rates == {
        "anon": [300, 300],
        "user": [1500, 300],
        "login": [25, 300],
        "signup": [5, 1800],
        "password_reset": [5, 1800],
        "verification_email": [5, 1800],
        "posts": [300, 3 * 3600],
        "follows": [400, 86400],
        "realtime_ticket": [60, 300],
        "media": [30, 1800],
    }
    assert num_proxies == 0


def test_rates_and_proxies_come_from_the_environment(
    settings_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    run = settings_runs["custom"]
    assert run.returncode == 0, run.stderr
    rates, num_proxies = json.loads(run.stdout)
    assert rates["anon"] == [1_000_000, 60]
    assert rates["signup"] == [2, 3600]
    assert rates["user"] == [1500, 300]
    assert num_proxies == 1


def test_a_bad_rate_stops_the_server_at_start_up(
    settings_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    run = settings_runs["invalid"]
    assert run.returncode != 0
    assert "ImproperlyConfigured: THROTTLE_PASSWORD_RESET='5/30min' is not a rate." in run.stderr


def test_every_scope_has_a_rate() -> None:
    scoped = [
        cls
        for cls in vars(throttling).values()
        if isinstance(cls, type) and issubclass(cls, WindowRateThrottle) and "scope" in vars(cls)
    ]
    # Every scope has a rate, and every rate a scope that uses it.
    assert {cls.scope for cls in scoped} == set(settings.THROTTLE_RATES)


def test_the_benchmarks_lift_every_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/run.py gives its servers unreachable limits scope by scope (a few tokens drive
    thousands of requests a second): a scope it forgot would answer its load with 429s."""
    spec = importlib.util.spec_from_file_location(
        "bench_run", Path(__file__).resolve().parent.parent / "bench" / "run.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench_run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench_run)  # its dataclasses look it up
    spec.loader.exec_module(bench_run)
    assert {scope.lower() for scope in bench_run.RATE_LIMITS} == set(settings.THROTTLE_RATES)


def test_every_rate_limited_operation_documents_429(api_client: APIClient) -> None:
    schema = json.loads(api_client.get("/api/schema/", {"format": "json"}).content)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                documented = "429" in operation["responses"]
                assert documented == (path != "/api/health/"), (method, path)


# --- Fail open -----------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens: bound, never listening, so connections are
    refused at once and no other process can take it during the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def redis_cache(url: str, *, ignore_exceptions: bool) -> dict[str, Any]:
    """The default cache as settings.py configures it in the distributed mode."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": ignore_exceptions,
            },
        }
    }


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "plaza.core.throttling" and record.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("ignore_exceptions", [True, False], ids=["swallowed", "raised"])
def test_an_unreachable_cache_lets_requests_through(
    rates: Callable[..., None],
    closed_port: int,
    ignore_exceptions: bool,
    api_client: APIClient,
    user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rates(anon=(1, 60), user=(1, 60))
    url = f"redis://127.0.0.1:{closed_port}/0"
    with override_settings(CACHES=redis_cache(url, ignore_exceptions=ignore_exceptions)):
        responses = [api_client.get("/api/posts/") for _ in range(3)]
        responses += [signed_in(user).get("/api/feed/") for _ in range(3)]

    assert [response.status_code for response in responses] == [200] * 6
    assert all(rate_headers(response) == {} for response in responses)
    warnings = outage_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Rate limits not enforced: the cache is unavailable")


def test_after_an_outage_the_cache_is_tried_again_within_seconds(
    closed_port: int, api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    outage_clock = FakeClock(1000.0)
    monkeypatch.setattr(cache_outage, "clock", outage_clock)
    with override_settings(
        CACHES=redis_cache(f"redis://127.0.0.1:{closed_port}/0", ignore_exceptions=True)
    ):
        api_client.get("/api/posts/")
    assert cache_outage.is_recent()

    outage_clock.now += CacheOutage.SKIP_SECONDS
    assert not cache_outage.is_recent()
    assert rate_headers(api_client.get("/api/posts/")) != {}  # the local cache answers again


@pytest.mark.redis
def test_a_stopped_redis_lets_requests_through_and_counting_resumes_when_it_returns(
    rates: Callable[..., None],
    tmp_path: Path,
    api_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis of the test's own (the suite's shared one keeps running), configured as in
    the distributed mode, stopped while requests arrive and started again on its port."""
    rates(anon=(2, 60))
    outage_clock = FakeClock(1000.0)
    monkeypatch.setattr(cache_outage, "clock", outage_clock)
    server = start_redis(tmp_path)
    try:
        with override_settings(CACHES=redis_cache(server.url, ignore_exceptions=True)):
            assert rate_headers(api_client.get("/api/posts/")) == headers(2, 1, 50)
            window = int(WINDOW_START // 60)
            stored = redis.Redis.from_url(server.url).keys(f"*throttle:anon:127.0.0.1:{window}")
            assert len(stored) == 1

            stop_redis(server)
            during = [api_client.get("/api/posts/") for _ in range(4)]
            assert [response.status_code for response in during] == [200] * 4
            assert all(rate_headers(response) == {} for response in during)
            assert len(outage_warnings(caplog)) == 1

            server = start_redis(tmp_path, port=server.port)  # empty: no persistence
            outage_clock.now += CacheOutage.SKIP_SECONDS
            assert rate_headers(api_client.get("/api/posts/")) == headers(2, 1, 50)
            assert api_client.get("/api/posts/").status_code == 200
            assert api_client.get("/api/posts/").status_code == 429
    finally:
        stop_redis(server)


@pytest.mark.parametrize("path", ["/api/auth/password/reset/", "/api/me/"])
def test_a_bad_token_with_a_malformed_body_is_a_4xx(api_client: APIClient, path: str) -> None:
    """Refusing bad credentials counts the request in the view's scopes; a scope that reads
    the body must not turn a malformed one into a 500 there (the answer is the 401 for the
    token, or the 400 for the body where the body is read first)."""
    api_client.credentials(HTTP_AUTHORIZATION="Token plz_not-a-real-token")
    response = api_client.generic(
        "PATCH" if path == "/api/me/" else "POST", path, "{not json", "application/json"
    )
    assert response.status_code in (400, 401), response.content
    assert response.json()["code"] in ("parse_error", "authentication_failed")
