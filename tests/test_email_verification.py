"""Email verification: the sign-up email, confirming with its token, a new address starting
over, and REQUIRE_VERIFIED_EMAIL both ways (off by default: nothing is refused)."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import signing
from django.test import override_settings
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.accounts.tasks import EMAIL_VERIFICATION_SALT, email_verification_token
from tests.factories import TEST_PASSWORD, PostFactory, UserFactory
from tests.mail import EMAILS, sent_emails

pytestmark = EMAILS

VERIFY = "/api/auth/email/verify/"
RESEND = "/api/auth/email/verify/resend/"


@pytest.fixture
def run_after_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Make a request and run what it queued for after its commit (the emails)."""

    def run(client: APIClient, method: str, path: str, data: Any = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(path, data, format="json")

    return run


def emailed_token() -> str:
    found = re.findall(r"^token: (\S+)$", str(sent_emails()[-1].body), flags=re.MULTILINE)
    assert len(found) == 1, sent_emails()[-1].body
    return str(found[0])


def sign_up(run_after_commit: Callable[..., Any], username: str = "ada") -> tuple[str, User]:
    response = run_after_commit(
        APIClient(),
        "post",
        "/api/auth/register/",
        {"username": username, "email": f"{username}@example.com", "password": TEST_PASSWORD},
    )
    assert response.status_code == 201, response.content
    return response.json()["token"], User.objects.get(username=username)


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_signing_up_emails_a_confirmation_link(run_after_commit: Callable[..., Any]) -> None:
    token, _ada = sign_up(run_after_commit)

    assert len(sent_emails()) == 1
    email = sent_emails()[0]
    assert (email.to, email.subject) == (
        ["ada@example.com"],
        "Confirm your email address for Plaza",
    )
    assert f"http://127.0.0.1:8000/verify-email/?token={emailed_token()}" in email.body
    assert client_with(token).get("/api/me/").json()["email_verified"] is False


def test_the_emailed_token_confirms_the_address(run_after_commit: Callable[..., Any]) -> None:
    token, ada = sign_up(run_after_commit)

    response = APIClient().post(VERIFY, {"token": emailed_token()})

    assert response.status_code == 204, response.content
    ada.refresh_from_db()
    assert ada.email_verified_at is not None
    assert client_with(token).get("/api/me/").json()["email_verified"] is True
    # Again: harmless, and the first moment stays.
    first = ada.email_verified_at
    assert APIClient().post(VERIFY, {"token": emailed_token()}).status_code == 204
    ada.refresh_from_db()
    assert ada.email_verified_at == first


def test_a_new_address_must_be_confirmed_and_the_old_token_is_dead(
    run_after_commit: Callable[..., Any],
) -> None:
    token, ada = sign_up(run_after_commit)
    old_token = emailed_token()
    assert APIClient().post(VERIFY, {"token": old_token}).status_code == 204

    changed = run_after_commit(
        client_with(token),
        "patch",
        "/api/me/",
        {"email": "ada@newmail.example", "current_password": TEST_PASSWORD},
    )

    assert changed.status_code == 200, changed.content
    assert changed.json()["email_verified"] is False
    assert sent_emails()[-1].to == ["ada@newmail.example"]
    refused = APIClient().post(VERIFY, {"token": old_token})  # it vouched for the old address
    assert refused.json()["code"] == "invalid_verification_link"
    assert APIClient().post(VERIFY, {"token": emailed_token()}).status_code == 204
    ada.refresh_from_db()
    assert ada.email_verified


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "",
        signing.dumps({"user": 1, "email": "ada@example.com"}, salt="another purpose"),
        signing.dumps({"user": 1, "email": "ada@example.com"}, key="not the secret key"),
    ],
    # Signed tokens carry the time they were made: ids from them would differ between the
    # processes of a parallel run (pytest -n), which must collect the same tests.
    ids=["garbage", "empty", "other-salt", "other-key"],
)
def test_forged_tokens_are_refused(token: str) -> None:
    UserFactory.create(username="ada", email="ada@example.com")
    response = APIClient().post(VERIFY, {"token": token})
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_verification_link", "invalid"}


def test_an_expired_token_is_refused(settings: Any) -> None:
    ada = UserFactory.create()
    token = email_verification_token(ada)
    settings.EMAIL_VERIFICATION_TIMEOUT = -1  # issued "before" any allowed age

    response = APIClient().post(VERIFY, {"token": token})

    assert response.json()["code"] == "invalid_verification_link"
    ada.refresh_from_db()
    assert not ada.email_verified


def test_a_token_names_its_purpose() -> None:
    ada = UserFactory.create()
    # Signed with this salt only: a value SECRET_KEY signs elsewhere cannot stand in.
    assert signing.loads(email_verification_token(ada), salt=EMAIL_VERIFICATION_SALT) == {
        "user": ada.pk,
        "email": ada.email,
    }


def test_resending_emails_again_until_verified(
    run_after_commit: Callable[..., Any],
) -> None:
    token, _ada = sign_up(run_after_commit)

    again = run_after_commit(client_with(token), "post", RESEND)
    assert (again.status_code, again.json()) == (202, {"sent": True})
    assert len(sent_emails()) == 2

    APIClient().post(VERIFY, {"token": emailed_token()})
    done = run_after_commit(client_with(token), "post", RESEND)
    assert (done.status_code, done.json()) == (202, {"sent": False})
    assert len(sent_emails()) == 2


# --- REQUIRE_VERIFIED_EMAIL ---------------------------------------------------------------


def creations(author: User) -> list[tuple[str, dict[str, Any]]]:
    """Every way to create something, aimed at content by `author`."""
    post = PostFactory.create(author=author)
    return [
        ("/api/posts/", {"title": "Hello", "content": "World"}),
        (f"/api/posts/{post.pk}/comments/", {"content": "Nice"}),
        (f"/api/posts/{post.pk}/like/", {}),
        (f"/api/users/{author.username}/follow/", {}),
        ("/api/conversations/", {"participants": [author.username]}),
    ]


@override_settings(REQUIRE_VERIFIED_EMAIL=True)
def test_with_verification_required_an_unverified_account_creates_nothing(
    run_after_commit: Callable[..., Any],
) -> None:
    token, _ada = sign_up(run_after_commit)
    grace = UserFactory.create(username="grace", email_verified_at=None)
    client = client_with(token)

    for path, data in creations(grace):
        response = client.post(path, data, format="json")
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "email_unverified", path
    # Reading and its own account still work, and so does verifying.
    assert client.get("/api/feed/").status_code == 200
    assert client.get("/api/me/").status_code == 200
    assert APIClient().post(VERIFY, {"token": emailed_token()}).status_code == 204
    for path, data in creations(grace):
        assert client.post(path, data, format="json").status_code in (200, 201), path


@override_settings(REQUIRE_VERIFIED_EMAIL=True)
def test_with_verification_required_a_message_needs_it_too(
    run_after_commit: Callable[..., Any],
) -> None:
    ada_token, _ada = sign_up(run_after_commit, "ada")
    APIClient().post(VERIFY, {"token": emailed_token()})
    grace_token, _grace = sign_up(run_after_commit, "grace")
    conversation = client_with(ada_token).post(
        "/api/conversations/", {"participants": ["grace"]}, format="json"
    )
    path = f"/api/conversations/{conversation.json()['id']}/messages/"

    refused = client_with(grace_token).post(path, {"body": "Hi"}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "email_unverified"
    assert client_with(ada_token).post(path, {"body": "Hi"}, format="json").status_code == 201


def test_by_default_an_unverified_account_creates_freely(
    run_after_commit: Callable[..., Any],
) -> None:
    token, _ada = sign_up(run_after_commit)
    grace = UserFactory.create(username="grace")
    client = client_with(token)

    for path, data in creations(grace):
        assert client.post(path, data, format="json").status_code in (200, 201), path
