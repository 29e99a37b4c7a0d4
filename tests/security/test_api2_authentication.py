"""API2:2023 Broken Authentication: forged, revoked and expired credentials, and reset links
used twice or for someone else.

Already proven elsewhere: tests/test_accounts.py (malformed Authorization headers on three
routes, the idle expiry, a disabled account, logout and logout-all revoking, tokens stored
hashed, wrong password and unknown user answering alike); tests/test_passwords.py (a reset
link works once, expires, dies when its owner signs in, forged or mangled links are refused,
a reset signs out every device, racing confirmations let one through);
tests/test_email_verification.py (forged, expired and wrong-purpose verification tokens);
tests/test_throttling.py (sign-in and password-change guesses are rate limited per address).

This module adds: every route refuses every kind of dead token (forged, revoked by logout,
expired, of a disabled or deleted account) with a 401 in the error shape, changing nothing,
even the routes anyone may read (a client that sent a token expects to act as someone); a
token is only read from the Authorization header, under the Bearer or Token scheme (another
scheme or a bare token is a 401 that says what to send); a browser session cannot write without a
CSRF token; a reset link is bound to one account and dies when the password changes.
"""

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.accounts.tasks import password_reset_uid
from plaza.posts.models import Post
from tests.factories import TEST_PASSWORD, UserFactory, token_for
from tests.mail import EMAILS, sent_emails
from tests.routes import rest_routes
from tests.security.scenario import Scene, build_scene, snapshot

pytestmark = pytest.mark.django_db

# Routes whose view reads no token at all: the health check, and the routes for people who
# have none yet or whose proof is in the body (a password, an emailed token).
NO_AUTHENTICATION = {
    "/api/health/",
    "/api/auth/register/",
    "/api/auth/login/",
    "/api/auth/password/reset/",
    "/api/auth/password/reset/confirm/",
    "/api/auth/email/verify/",
}
# The API description answers in its own formats (YAML, an HTML page), its errors too.
NOT_JSON = {"/api/schema/", "/api/docs/"}


def test_the_routes_that_read_no_token_are_the_expected_ones() -> None:
    """A view that forgets its authentication would not be attacked by the test below."""
    tokenless = set()
    for path in rest_routes():
        concrete = re.sub(r"\{\w+\}", "1", path)
        view = resolve(concrete).func.view_class  # type: ignore[attr-defined]
        if not view().get_authenticators():
            tokenless.add(path)
    assert tokenless == NO_AUTHENTICATION


NEW_PASSWORD = "a brand new passphrase 7"


def operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, methods in rest_routes().items()
        if path not in NO_AUTHENTICATION
        for method in methods
    )


def dead_token(kind: str, user: User) -> str:
    """A token that must not let anyone in."""
    if kind == "forged":  # the right shape, never issued
        return "plz_" + "A" * 43
    token, raw = AuthToken.generate(user)
    if kind == "revoked":
        assert (
            APIClient(HTTP_AUTHORIZATION=f"Token {raw}").post("/api/auth/logout/").status_code
            == 204
        )
    elif kind == "expired":
        idle_since = timezone.now() - settings.TOKEN_IDLE_TTL - timedelta(seconds=1)
        AuthToken.objects.filter(pk=token.pk).update(last_used_at=idle_since)
    elif kind == "disabled account":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif kind == "deleted account":
        response = APIClient(HTTP_AUTHORIZATION=f"Token {raw}").delete(
            "/api/me/", {"password": TEST_PASSWORD}, format="json"
        )
        assert response.status_code == 204, response.content
    return raw


DEAD_TOKENS = ["forged", "revoked", "expired", "disabled account", "deleted account"]


@pytest.mark.parametrize("kind", DEAD_TOKENS)
def test_every_route_refuses_a_dead_token_and_changes_nothing(kind: str) -> None:
    scene: Scene = build_scene()
    # The dead token is the attacker's own: what it could do, it would do as them.
    raw = dead_token(kind, scene.attacker)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")
    before = snapshot()
    for method, path in operations():
        response = client.generic(method, scene.path(path), "{}", "application/json")
        assert response.status_code == 401, (method, path, response.content)
        assert response.has_header("WWW-Authenticate"), (method, path)
        if path not in NOT_JSON:
            body = json.loads(response.content)
            assert set(body) == {"code", "message", "fields"}
    assert snapshot() == before


def test_the_health_check_reads_no_token() -> None:
    response = APIClient(HTTP_AUTHORIZATION="Token plz_forged").get("/api/health/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "where",
    [
        {"QUERY_STRING": "token=RAW"},
        {"QUERY_STRING": "auth_token=RAW"},
        {"QUERY_STRING": "access_token=RAW"},
        {"HTTP_X_AUTH_TOKEN": "RAW"},
        {"HTTP_TOKEN": "RAW"},
        {"HTTP_COOKIE": "token=RAW"},
    ],
    ids=lambda where: next(iter(where)),
)
def test_a_token_is_only_read_from_the_authorization_header(where: dict[str, str]) -> None:
    """Tokens elsewhere end up in access logs and browser histories; none is honoured."""
    raw = token_for(UserFactory.create())
    extra: dict[str, Any] = {name: value.replace("RAW", raw) for name, value in where.items()}
    response = APIClient().get("/api/me/", **extra)
    assert response.status_code == 401, response.content


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "TOKEN"])
def test_a_token_is_read_under_the_bearer_and_token_schemes(scheme: str) -> None:
    """OAuth clients (and Swagger UI's bearer scheme) send Bearer; DRF clients send Token."""
    user = UserFactory.create()
    client = APIClient(HTTP_AUTHORIZATION=f"{scheme} {token_for(user)}")
    response = client.get("/api/me/")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.pk)
    assert client.post("/api/posts/", {"title": "t", "content": "c"}).status_code == 201


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWRhOnNlY3JldA==",
        "Digest username=ada",
        "Bearertoken RAW",
        "RAW",  # a bare token, without a scheme
        "OAuth RAW",
    ],
)
@pytest.mark.parametrize("path", ["/api/me/", "/api/posts/"])
def test_another_scheme_or_a_bare_token_is_a_401_that_says_what_to_send(
    header: str, path: str
) -> None:
    """Not "credentials were not provided", which is false, and not served as anonymous on
    routes anyone may read: the client sent credentials and expects to act as someone."""
    raw = token_for(UserFactory.create())
    response = APIClient(HTTP_AUTHORIZATION=header.replace("RAW", raw)).get(path)
    assert response.status_code == 401, response.content
    assert response.json() == {
        "code": "unknown_authorization_scheme",
        "message": (
            "Unknown authorization scheme: use `Authorization: Bearer <token>` "
            "(or `Token <token>`)."
        ),
        "fields": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Token", "Bearer \xff"])
def test_a_malformed_bearer_header_is_a_401(header: str) -> None:
    response = APIClient(HTTP_AUTHORIZATION=header).get("/api/me/")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["", "   "])
def test_an_empty_authorization_header_is_no_credentials(header: str) -> None:
    assert APIClient(HTTP_AUTHORIZATION=header).get("/api/posts/").status_code == 200
    response = APIClient(HTTP_AUTHORIZATION=header).get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_browser_session_cannot_write_without_a_csrf_token() -> None:
    """The admin's session also opens the API (DRF's SessionAuthentication), so a page on
    another site could make a signed-in staff member's browser post: without the CSRF token
    that page cannot read, the write is refused."""
    user = UserFactory.create()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/me/").json()["username"] == user.username  # the session works
    for method, path, data in [
        ("POST", "/api/posts/", {"title": "Forged", "content": "by another site"}),
        ("PATCH", "/api/me/", {"display_name": "Forged"}),
        ("POST", "/api/auth/logout-all/", {}),
        ("DELETE", "/api/me/", {"password": TEST_PASSWORD}),
    ]:
        response = browser.generic(method, path, json.dumps(data), "application/json")
        assert response.status_code == 403, (method, path, response.content)
        assert "CSRF" in response.json()["message"]
    assert not Post.objects.exists()
    user.refresh_from_db()
    assert user.display_name != "Forged"
    assert User.objects.filter(pk=user.pk).exists()


# --- Password reset links -------------------------------------------------------------------


@pytest.fixture
def reset_link(django_capture_on_commit_callbacks: Any) -> Callable[[str], dict[str, str]]:
    def ask(email: str) -> dict[str, str]:
        with django_capture_on_commit_callbacks(execute=True):
            response = APIClient().post("/api/auth/password/reset/", {"email": email})
        assert response.status_code == 202
        body = str(sent_emails()[-1].body)
        return dict(re.findall(r"^(uid|token): (\S+)$", body, flags=re.MULTILINE))

    return ask


def signs_in(username: str, password: str) -> bool:
    response = APIClient().post("/api/auth/login/", {"username": username, "password": password})
    return bool(response.status_code == 200)


@EMAILS
def test_a_reset_link_opens_only_its_own_account(reset_link: Callable) -> None:
    UserFactory.create(username="ada", email="ada@example.com")
    grace = UserFactory.create(username="grace", email="grace@example.com")
    ada_link = reset_link("ada@example.com")
    response = APIClient().post(
        "/api/auth/password/reset/confirm/",
        {
            "uid": password_reset_uid(grace),
            "token": ada_link["token"],
            "new_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_link"
    assert signs_in("grace", TEST_PASSWORD)
    assert signs_in("ada", TEST_PASSWORD)


@EMAILS
def test_a_reset_link_dies_when_the_password_is_changed(reset_link: Callable) -> None:
    """A link that leaked (an old mailbox) is dead once its owner changed the password."""
    ada = UserFactory.create(username="ada", email="ada@example.com")
    link = reset_link("ada@example.com")
    changed = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(ada)}").post(
        "/api/auth/password/change/",
        {"current_password": TEST_PASSWORD, "new_password": "changed passphrase 8"},
    )
    assert changed.status_code == 204
    response = APIClient().post(
        "/api/auth/password/reset/confirm/", {**link, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_link"
    assert signs_in("ada", "changed passphrase 8")


@EMAILS
def test_a_reset_token_is_not_an_api_token(reset_link: Callable) -> None:
    UserFactory.create(username="ada", email="ada@example.com")
    link = reset_link("ada@example.com")
    for raw in (link["token"], f"{link['uid']}:{link['token']}"):
        assert APIClient(HTTP_AUTHORIZATION=f"Token {raw}").get("/api/me/").status_code == 401
