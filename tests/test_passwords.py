"""Passwords: reset by email (request, email, confirm, single use, expiry, every device
signed out) and change while signed in (current password required, other devices signed out)."""

import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import close_old_connections
from django.test import override_settings
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.accounts.tasks import password_reset_uid
from plaza.core.background import answer_thread
from tests.factories import TEST_PASSWORD, UserFactory, token_for
from tests.mail import EMAILS, SlowSMTPServer, sent_emails

pytestmark = EMAILS

NEW_PASSWORD = "a brand new passphrase 7"
RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
CHANGE = "/api/auth/password/change/"
LOGIN = "/api/auth/login/"


@pytest.fixture
def ada() -> User:
    return UserFactory.create(username="ada", email="Ada@Example.com")


@pytest.fixture
def sent(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Post to an endpoint and run what it queued for after the commit (the email)."""

    def post(client: APIClient, path: str, data: dict[str, str]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data, format="json")

    return post


def reset_link_parts() -> dict[str, str]:
    """The uid and token of the last email sent."""
    body = str(sent_emails()[-1].body)
    found = dict(re.findall(r"^(uid|token): (\S+)$", body, flags=re.MULTILINE))
    assert set(found) == {"uid", "token"}, body
    return found


def request_reset(sent: Callable[..., Any], email: str = "ada@example.com") -> dict[str, str]:
    response = sent(APIClient(), RESET, {"email": email})
    assert response.status_code == 202, response.content
    return reset_link_parts()


def signs_in(username: str, password: str) -> bool:
    response = APIClient().post(LOGIN, {"username": username, "password": password})
    return bool(response.status_code == 200)


# --- Reset: the request ---------------------------------------------------------------------


def test_a_reset_request_emails_a_link_to_the_account(ada: User, sent: Callable) -> None:
    response = sent(APIClient(), RESET, {"email": "ADA@example.com"})  # any case

    assert response.status_code == 202
    assert len(sent_emails()) == 1
    email = sent_emails()[0]
    assert email.to == ["Ada@Example.com"]
    assert email.subject == "Reset your Plaza password"
    assert not getattr(email, "alternatives", None)  # plain text only
    parts = reset_link_parts()
    assert f"http://127.0.0.1:8000/reset-password/?uid={parts['uid']}&token={parts['token']}" in (
        email.body
    )


def test_an_unknown_address_gets_the_same_answer_and_no_email(ada: User, sent: Callable) -> None:
    known = sent(APIClient(), RESET, {"email": "ada@example.com"})
    unknown = sent(APIClient(), RESET, {"email": "nobody@example.com"})

    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert len(sent_emails()) == 1


def test_a_deactivated_account_gets_no_email(ada: User, sent: Callable) -> None:
    User.objects.filter(pk=ada.pk).update(is_active=False)

    assert sent(APIClient(), RESET, {"email": "ada@example.com"}).status_code == 202
    assert sent_emails() == []


@pytest.mark.django_db  # the test's transaction never commits
def test_no_email_leaves_before_the_request_commits(ada: User) -> None:
    # Without running the on-commit callbacks, nothing is sent: a rolled-back request
    # would send nothing either.
    assert APIClient().post(RESET, {"email": "ada@example.com"}).status_code == 202
    assert sent_emails() == []


@override_settings(PASSWORD_RESET_LINK="https://app.example/reset#{uid}/{token}")
def test_the_link_points_where_the_front_end_says(ada: User, sent: Callable) -> None:
    parts = request_reset(sent)
    assert f"https://app.example/reset#{parts['uid']}/{parts['token']}" in sent_emails()[0].body


# --- Reset: the confirmation ---------------------------------------------------------------


def test_confirming_sets_the_password_and_signs_out_every_device(ada: User, sent: Callable) -> None:
    phone, laptop = token_for(ada), token_for(ada)
    parts = request_reset(sent)

    response = APIClient().post(CONFIRM, {**parts, "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.content
    assert signs_in("ada", NEW_PASSWORD)
    assert not signs_in("ada", TEST_PASSWORD)
    for token in (phone, laptop):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get("/api/me/").status_code == 401


def test_a_link_works_once(ada: User, sent: Callable) -> None:
    parts = request_reset(sent)
    assert APIClient().post(CONFIRM, {**parts, "new_password": NEW_PASSWORD}).status_code == 204

    again = APIClient().post(CONFIRM, {**parts, "new_password": "another passphrase 9"})

    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_link"
    assert signs_in("ada", NEW_PASSWORD)


def test_a_link_expires(ada: User, sent: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = request_reset(sent)
    later = datetime.now() + timedelta(minutes=61)  # PASSWORD_RESET_TIMEOUT_MINUTES is 60
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)

    response = APIClient().post(CONFIRM, {**parts, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_link"
    assert signs_in("ada", TEST_PASSWORD)


def test_signing_in_meanwhile_does_not_leave_an_old_link_working(ada: User, sent: Callable) -> None:
    parts = request_reset(sent)
    # Django's token covers the last login: a link made before it stops working, so a
    # link that leaked from an old mailbox is dead once its owner has signed in.
    assert signs_in("ada", TEST_PASSWORD)

    response = APIClient().post(CONFIRM, {**parts, "new_password": NEW_PASSWORD})

    assert response.json()["code"] == "invalid_reset_link"


@pytest.mark.parametrize(
    "change",
    [
        {"token": "1a2b3c-0123456789abcdef0123456789abcdef"},
        {"uid": "MQ"},  # another account's id
        {"uid": "not base64!"},
        {"uid": "_" * 64},
        {"uid": "LTE"},  # "-1"
        {"uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"},  # beyond 64 bits
    ],
)
def test_a_forged_or_mangled_link_is_refused(
    ada: User, sent: Callable, change: dict[str, str]
) -> None:
    parts = request_reset(sent)

    response = APIClient().post(CONFIRM, {**parts, **change, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reset_link"
    assert signs_in("ada", TEST_PASSWORD)


def test_a_weak_new_password_is_refused_and_the_link_stays_usable(
    ada: User, sent: Callable
) -> None:
    parts = request_reset(sent)

    weak = APIClient().post(CONFIRM, {**parts, "new_password": "12345678"})

    assert weak.status_code == 400
    assert weak.json()["code"] == "weak_password"
    assert "new_password" in weak.json()["fields"]
    assert APIClient().post(CONFIRM, {**parts, "new_password": NEW_PASSWORD}).status_code == 204


@pytest.mark.django_db(transaction=True)
def test_racing_confirmations_with_one_link_let_exactly_one_through() -> None:
    ada = UserFactory.create(username="ada", email="ada@example.com")
    parts = {"uid": password_reset_uid(ada), "token": default_token_generator.make_token(ada)}
    passwords = [f"racing passphrase number {n}" for n in range(6)]
    statuses: list[int] = []
    start = threading.Barrier(len(passwords))

    def confirm(password: str) -> None:
        try:
            start.wait()
            response = APIClient().post(CONFIRM, {**parts, "new_password": password})
            statuses.append(response.status_code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=confirm, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [204] + [400] * (len(passwords) - 1)
    ada.refresh_from_db()
    assert sum(ada.check_password(p) for p in passwords) == 1


# --- Change, signed in ---------------------------------------------------------------------


def test_changing_the_password_keeps_this_device_and_signs_out_the_others(
    ada: User, make_client: Callable[[User], APIClient]
) -> None:
    this_device = make_client(ada)
    other_token = token_for(ada)

    response = this_device.post(
        CHANGE, {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204, response.content
    assert this_device.get("/api/me/").status_code == 200
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {other_token}")
    assert other.get("/api/me/").status_code == 401
    assert AuthToken.objects.filter(user=ada).count() == 1
    assert signs_in("ada", NEW_PASSWORD)


def test_a_wrong_current_password_changes_nothing(
    ada: User, make_client: Callable[[User], APIClient]
) -> None:
    other_token = token_for(ada)

    response = make_client(ada).post(
        CHANGE, {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    assert "current_password" in response.json()["fields"]
    assert signs_in("ada", TEST_PASSWORD)
    assert AuthToken.objects.filter(user=ada, hint=other_token[:12]).exists()


def test_a_weak_new_password_is_refused(
    ada: User, make_client: Callable[[User], APIClient]
) -> None:
    response = make_client(ada).post(
        CHANGE, {"current_password": TEST_PASSWORD, "new_password": "ada"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password"
    assert signs_in("ada", TEST_PASSWORD)


def test_changing_needs_a_token() -> None:
    response = APIClient().post(
        CHANGE, {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 401


# --- What the answer's time tells ---------------------------------------------------------

SMTP_DELAY_SECONDS = 0.1


def test_reset_answers_as_fast_for_known_addresses_as_unknown_ones() -> None:
    """With a mail server that takes 100 ms, a reset asked for a known address must answer in
    the same time as one for an unknown address, or timing tells who has an account; and the
    emails must still arrive."""
    known = [UserFactory.create(email=f"known{n}@example.com") for n in range(20)]
    asks = [("known", user.email) for user in known[1:]]
    asks += [("unknown", f"nobody{n}@example.com") for n in range(len(asks))]
    random.Random(11).shuffle(asks)  # neither kind always follows the other
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    client = APIClient()
    with (
        SlowSMTPServer(delay=SMTP_DELAY_SECONDS) as smtp,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp.port,
        ),
    ):
        # Warm up both paths (the background thread starts with the first known address).
        client.post(RESET, {"email": known[0].email}, format="json")
        client.post(RESET, {"email": "warm-up@example.com"}, format="json")
        for kind, email in asks:
            started = time.perf_counter()
            response = client.post(RESET, {"email": email}, format="json")
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 202, response.content
        assert answer_thread.wait_until_idle(timeout=60)
        delivered = len(smtp.messages)

    gap = statistics.median(timings["known"]) - statistics.median(timings["unknown"])
    assert abs(gap) < 0.005, timings
    assert delivered == len(known)
