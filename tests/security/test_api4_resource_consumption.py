"""API4:2023 Unrestricted Resource Consumption (and API6, sensitive business flows): every
request is counted against a rate limit, and every input is bounded.

Already proven elsewhere: tests/test_errors.py caps every list's page size
(test_page_size_is_capped_and_bad_limits_fall_back, table-checked against the schema), refuses
every oversized body with 413 (test_body_larger_than_the_upload_limit_is_refused) and every
oversized field (test_field_size_limits, test_size_limits_cover_every_text_field), deeply
nested JSON and huge numbers; tests/test_throttling.py proves the limits themselves (429 with
Retry-After, per address, per account, the per-flow limits on sign-in, sign-up, password
reset, confirmation emails, posting, following and WebSocket tickets: API6), and that every
limited operation documents its 429; tests/test_messaging.py caps a conversation's size;
tests/test_realtime.py caps WebSockets per account.

This module adds what no single-endpoint test shows: that no route escapes the API-wide
limits, signed in or not, including requests refused for their credentials (a forged token
used to cost a token lookup per request with no limit at all: now it counts against its
address like any anonymous request), and that a request listing many names costs a bounded
number of queries.
"""

import json
from collections.abc import Callable, Iterator

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from plaza.core.throttling import WindowRateThrottle
from tests.routes import rest_routes
from tests.security.scenario import Scene, build_scene

pytestmark = [pytest.mark.django_db, pytest.mark.real_rate_limits]

LIMIT = 3
# The health check is never limited: a load balancer's probe refused with 429 would take a
# healthy server out of rotation (tests/test_throttling.py).
UNLIMITED = {"/api/health/"}


@pytest.fixture
def tight_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every scope allows LIMIT requests an hour, and the clock stands still mid-window."""
    from django.conf import settings

    monkeypatch.setattr(WindowRateThrottle, "timer", staticmethod(lambda: 20_833 * 86_400.0 + 10))
    with override_settings(THROTTLE_RATES=dict.fromkeys(settings.THROTTLE_RATES, (LIMIT, 3600))):
        yield


@pytest.fixture
def scene(tight_limits: None) -> Scene:
    return build_scene()


def operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, methods in rest_routes().items()
        if path not in UNLIMITED
        for method in methods
    )


# How each request is sent. Signed in, each request has a token of its own (of the same
# account), so that logging out does not turn the next ones anonymous.
IDENTITIES: dict[str, Callable[[Scene], APIClient]] = {
    "signed in": lambda scene: scene.client(scene.attacker),
    "anonymous": lambda scene: APIClient(),
    "forged token": lambda scene: APIClient(HTTP_AUTHORIZATION="Token plz_" + "F" * 43),
}


def statuses(identity: str, scene: Scene, method: str, path: str) -> list[int]:
    from django.core.cache import cache

    cache.clear()  # each operation starts with nothing counted
    return [
        IDENTITIES[identity](scene)
        .generic(method, scene.path(path), "{}", "application/json")
        .status_code
        for _ in range(LIMIT + 1)
    ]


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_no_route_escapes_the_rate_limits(scene: Scene, identity: str) -> None:
    escaped = []
    for method, path in operations():
        answers = statuses(identity, scene, method, path)
        if answers[-1] != 429 or 429 in answers[:-1]:
            escaped.append(f"{method} {path}: {answers}")
    assert not escaped, "\n".join(escaped)


def test_a_forged_token_is_counted_against_its_address(scene: Scene) -> None:
    """The regression: an address over its anonymous limit went on being answered 401 to
    every forged token, each answer costing a token lookup."""
    anonymous = APIClient()
    for _ in range(LIMIT):
        assert anonymous.get("/api/posts/").status_code == 200
    assert anonymous.get("/api/posts/").status_code == 429
    forger = APIClient(HTTP_AUTHORIZATION="Token plz_" + "F" * 43)
    response = forger.get("/api/me/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content)["code"] == "throttled"
    assert response["X-RateLimit-Remaining"] == "0"


def test_a_long_list_of_names_costs_a_bounded_number_of_queries(
    scene: Scene, count_queries: Callable[[Callable[[], object]], int]
) -> None:
    """A conversation with thousands of people named (most of them nobody) is refused
    without a query per name."""
    client = scene.client(scene.attacker)
    names = [f"nobody{n}" for n in range(5_000)]

    def start() -> None:
        response = client.post("/api/conversations/", {"participants": names}, format="json")
        assert response.status_code == 400, response.content

    assert count_queries(start) <= 5
