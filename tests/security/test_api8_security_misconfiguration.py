"""API8:2023 Security Misconfiguration: production settings, error pages, CORS, methods.

Already proven elsewhere: tests/test_settings.py runs `manage.py check --deploy` (passing with
the documented production environment, failing without it: DEBUG, HSTS, SSL redirect, secure
cookies, SECRET_KEY, ALLOWED_HOSTS), checks DEBUG is off by default and a SECRET_KEY is
required, security headers on every kind of answer (nosniff, X-Frame-Options, referrer and
opener policies), the HTTPS redirect and HSTS, a foreign Host refused, and that a crash is a
JSON 500 without a traceback under WSGI and ASGI with DEBUG off; tests/test_errors.py checks
every route's errors are JSON in the one error shape (unknown URLs, wrong methods, bad input).

This module adds: no route answers a cross-origin request with CORS headers (Plaza configures
no CORS: a page on another site can neither read answers nor send credentialed requests that
a browser would let through), TRACE is refused everywhere, and the browsable API (HTML forms)
is off unless asked for.
"""

import pytest
from rest_framework.test import APIClient

from tests.routes import rest_routes
from tests.security.scenario import Scene, build_scene

pytestmark = pytest.mark.django_db

EVIL_ORIGIN = "https://evil.example"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
)


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def cors_headers(response: object) -> dict[str, str]:
    headers = getattr(response, "headers", {})
    return {name: headers[name] for name in CORS_HEADERS if name in headers}


def test_no_route_answers_another_origin_with_cors_headers(scene: Scene) -> None:
    signed_in = scene.client(scene.attacker)
    found = {}
    for path, methods in rest_routes().items():
        url = scene.path(path)
        # The preflight a browser sends before a credentialed cross-origin write.
        preflight = APIClient().options(
            url,
            HTTP_ORIGIN=EVIL_ORIGIN,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
        )
        if cors_headers(preflight):
            found[f"OPTIONS {path}"] = cors_headers(preflight)
        if "get" in methods:
            for client in (APIClient(), signed_in):
                response = client.get(url, HTTP_ORIGIN=EVIL_ORIGIN)
                if cors_headers(response):
                    found[f"GET {path}"] = cors_headers(response)
    assert not found


def test_trace_is_refused_everywhere(scene: Scene) -> None:
    """TRACE echoes a request back (cross-site tracing): no route answers it (those that
    need a token refuse the anonymous caller first)."""
    for path in rest_routes():
        response = APIClient().generic("TRACE", scene.path(path), HTTP_X_SECRET="echo-me")
        assert response.status_code in (401, 405), path
        assert b"echo-me" not in response.content
        signed_in = scene.client(scene.attacker).generic(
            "TRACE", scene.path(path), HTTP_X_SECRET="echo-me"
        )
        assert signed_in.status_code == 405, path


@pytest.mark.parametrize("path", ["/api/posts/", "/api/users/", "/api/auth/login/"])
def test_the_browsable_api_is_off(path: str) -> None:
    """DRF's HTML pages (forms posting with the session) are for development
    (BROWSABLE_API, default DEBUG): a browser asking for HTML gets JSON or nothing."""
    response = APIClient().get(path, HTTP_ACCEPT="text/html")
    assert not response["Content-Type"].startswith("text/html"), response["Content-Type"]
    assert b"<form" not in response.content
