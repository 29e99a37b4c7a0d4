"""One mailbox, one account: email addresses are stored and compared in one normal form (the
domain in its IDNA ASCII form, lower-cased; plaza.core.emails) wherever an address enters:
sign-up, email change, sign-in, password reset, the admin, and the rows already stored."""

import importlib
from collections.abc import Callable
from typing import Any

import idna
import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from plaza.accounts import services
from plaza.accounts.models import User
from plaza.core.emails import email_key, email_normal_form
from tests.factories import TEST_PASSWORD, UserFactory, token_for
from tests.helpers import admin_add
from tests.mail import EMAILS, sent_emails

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct horse battery staple 42"
UNICODE = "x@éxample.com"
ASCII = "x@xn--xample-9ua.com"
FULL_WIDTH_XAMPLE = "\uff58\uff41\uff4d\uff50\uff4c\uff45"  # "xample" in full-width letters
# Spellings of UNICODE's mailbox: other cases, the domain's A-label, full-width letters.
SAME_MAILBOX = [
    ASCII,
    "X@XN--XAMPLE-9UA.COM",
    "x@ÉXAMPLE.com",
    "x@Éxample.COM",
    f"x@é{FULL_WIDTH_XAMPLE}.com",
]
# Domains Django's EmailValidator lets through but IDNA 2008 refuses.
BAD_DOMAINS = ["x@☃.com", "x@xn--n3h.com", "x@exa\u202emple.com", "x@xn--zz.com"]


def register(email: str, username: str = "ada") -> Any:
    body = {"username": username, "email": email, "password": GOOD_PASSWORD}
    return APIClient().post("/api/auth/register/", body, format="json")


def error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "fields"}
    return body


# --- The normal form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        (UNICODE, ASCII),
        (ASCII, ASCII),
        ("Ada@Example.COM", "Ada@example.com"),  # the local part is kept as written
        ("  ada@example.com ", "ada@example.com"),
        (f"x@\uff45{FULL_WIDTH_XAMPLE}.com", "x@example.com"),  # UTS #46 maps full width
        ("x@straße.de", "x@xn--strae-oqa.de"),  # IDNA 2008, not transitional
        ("x@例え.テスト", "x@xn--r8jz45g.xn--zckzah"),
        ("x@localhost", "x@localhost"),
    ],
)
def test_the_normal_form(address: str, normal: str) -> None:
    assert email_normal_form(address) == normal
    assert email_normal_form(normal) == normal


def test_one_mailbox_has_one_key() -> None:
    assert {email_key(spelling) for spelling in [UNICODE, *SAME_MAILBOX]} == {ASCII}


# --- Sign-up --------------------------------------------------------------------------------


def test_sign_up_stores_the_normal_form() -> None:
    response = register(UNICODE)
    assert response.status_code == 201, response.content
    assert response.json()["user"]["email"] == ASCII
    assert User.objects.get().email == ASCII


@pytest.mark.parametrize("spelling", SAME_MAILBOX)
def test_one_mailbox_signs_up_once(spelling: str) -> None:
    assert register(UNICODE).status_code == 201
    body = error(register(spelling, username="grace"))
    assert body["code"] == "email_taken"
    assert "email" in body["fields"]
    assert User.objects.count() == 1


def test_the_ascii_spelling_first_blocks_the_unicode_one() -> None:
    assert register(ASCII).status_code == 201
    assert error(register(UNICODE, username="grace"))["code"] == "email_taken"


# Letters that Django's EmailValidator takes for [a-z] (they match it without case) and that
# Python folds to ASCII while SQLite's lower() keeps them: each would be a second account.
LOOKALIKE_LOCAL_PARTS = ["\u212ate@example.com", "\u017fam@example.com", "\u0131vy@example.com"]


@pytest.mark.parametrize("address", LOOKALIKE_LOCAL_PARTS)
def test_a_local_part_that_is_not_ascii_is_a_400(address: str) -> None:
    """ "Kate" with a Kelvin sign must not sign up beside, or be moved to beside, "kate"."""
    user = UserFactory.create(email="kate@example.com")
    body = error(register(address, username="grace"))
    assert body["code"] == "invalid_email_local_part"
    assert "email" in body["fields"]
    assert error(change_email(user, address))["code"] == "invalid_email_local_part"
    user.refresh_from_db()
    assert user.email == "kate@example.com"
    assert User.objects.count() == 1


@pytest.mark.parametrize("address", BAD_DOMAINS)
def test_a_domain_that_is_not_valid_idna_is_a_400(address: str) -> None:
    body = error(register(address))
    assert body["code"] == "invalid_email_domain"
    assert "IDNA" in body["fields"]["email"][0]
    assert not User.objects.exists()


def test_an_address_longer_than_254_characters_in_ascii_is_a_400() -> None:
    """Punycode is longer than the Unicode it encodes: the stored form must fit the column."""
    accented = "".join(chr(c) for c in range(0xE0, 0x100) if c != 0xF7)  # à...ÿ, 31 letters
    latin_a = "".join(chr(c) for c in range(0x101, 0x13F, 2))  # ā ă ą ..., 31 letters
    address = f"{'a' * 180}@{accented}.{latin_a}.com"
    ascii_domain = idna.encode(address.rpartition("@")[2], uts46=True)
    assert len(address) <= 254 < 181 + len(ascii_domain)  # fits as typed, not in ASCII
    body = error(register(address))
    assert body["code"] == "invalid"
    assert "ASCII" in body["fields"]["email"][0]
    assert not User.objects.exists()


def test_the_unique_index_decides_not_a_check_before_inserting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two sign-ups racing both pass the check; the database's unique index on the stored
    normal form lets one in. Without the check, the second one is refused by the index."""
    assert register(UNICODE).status_code == 201
    monkeypatch.setattr(services, "_check_email_free", lambda email, **kwargs: None)
    body = error(register("X@xn--xample-9ua.com", username="grace"))
    assert body["code"] == "account_exists"
    assert User.objects.count() == 1


def test_the_manager_stores_the_normal_form_and_the_index_refuses_a_twin() -> None:
    User.objects.create_user(username="ada", email=UNICODE, password=GOOD_PASSWORD)
    assert User.objects.get().email == ASCII
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="grace", email="X@ÉXAMPLE.com")
    with pytest.raises(ValidationError):
        User.objects.create_user(username="carol", email="carol@☃.com")


# --- Email change ---------------------------------------------------------------------------


def change_email(user: User, email: str) -> Any:
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    body = {"email": email, "current_password": TEST_PASSWORD}
    return client.patch("/api/me/", body, format="json")


def test_an_email_change_stores_the_normal_form() -> None:
    user = UserFactory.create()
    response = change_email(user, UNICODE)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == ASCII
    user.refresh_from_db()
    assert user.email == ASCII


@pytest.mark.parametrize("spelling", SAME_MAILBOX)
def test_an_email_change_to_anothers_mailbox_is_refused(spelling: str) -> None:
    UserFactory.create(email=email_normal_form(UNICODE))
    user = UserFactory.create(email="mine@example.com")
    assert error(change_email(user, spelling))["code"] == "email_taken"
    user.refresh_from_db()
    assert user.email == "mine@example.com"


def test_respelling_ones_own_address_is_no_change() -> None:
    """The same mailbox written otherwise needs no password and keeps its confirmation."""
    user = UserFactory.create(email=ASCII)
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    response = client.patch("/api/me/", {"email": UNICODE}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email_verified"] is True


@pytest.mark.parametrize("address", BAD_DOMAINS)
def test_an_email_change_to_an_invalid_domain_is_a_400(address: str) -> None:
    user = UserFactory.create(email="mine@example.com")
    body = error(change_email(user, address))
    assert body["code"] == "invalid_email_domain"
    assert "email" in body["fields"]
    user.refresh_from_db()
    assert user.email == "mine@example.com"


# --- Sign-in and password reset -------------------------------------------------------------


def sign_in(login: str) -> Any:
    body = {"username": login, "password": TEST_PASSWORD}
    return APIClient().post("/api/auth/login/", body, format="json")


@pytest.mark.parametrize("spelling", [UNICODE, *SAME_MAILBOX])
def test_sign_in_by_any_spelling_of_the_address(spelling: str) -> None:
    user = UserFactory.create(email=ASCII)
    response = sign_in(spelling)
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(user.pk)


def test_sign_in_with_an_invalid_domain_is_a_400_not_a_500() -> None:
    UserFactory.create(email=ASCII)
    assert error(sign_in("x@☃.com"))["code"] == "invalid_email_domain"


@pytest.fixture
def ask_reset(django_capture_on_commit_callbacks: Any) -> Callable[[str], Any]:
    def ask(email: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return APIClient().post("/api/auth/password/reset/", {"email": email}, format="json")

    return ask


@EMAILS
@pytest.mark.parametrize("spelling", [UNICODE, *SAME_MAILBOX])
def test_a_reset_finds_the_account_by_any_spelling(
    ask_reset: Callable[[str], Any], spelling: str
) -> None:
    UserFactory.create(email=ASCII)
    assert ask_reset(spelling).status_code == 202
    assert [message.to for message in sent_emails()] == [[ASCII]]


@EMAILS
def test_a_reset_for_an_invalid_domain_is_a_400(ask_reset: Callable[[str], Any]) -> None:
    body = error(ask_reset("x@☃.com"))
    assert body["code"] == "invalid_email_domain"
    assert not sent_emails()


# --- The admin ------------------------------------------------------------------------------


def test_the_admin_stores_the_normal_form_and_refuses_a_twin(admin_client: Client) -> None:
    assert admin_add(admin_client, "ada", UNICODE).status_code == 302
    assert User.objects.get(username="ada").email == ASCII
    refused = admin_add(admin_client, "grace", "X@xn--XAMPLE-9ua.com")
    assert refused.status_code == 200  # the form again, with its error
    assert not User.objects.filter(username="grace").exists()


def test_the_admin_refuses_an_invalid_domain(admin_client: Client) -> None:
    response = admin_add(admin_client, "ada", "ada@☃.com")
    assert response.status_code == 200
    assert "not a valid domain name" in response.content.decode()
    assert not User.objects.filter(username="ada").exists()


# --- The rows already stored ----------------------------------------------------------------


def test_the_migration_normalises_stored_addresses_and_loses_no_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    migration = importlib.import_module("plaza.accounts.migrations.0005_email_normal_form")
    # Rows as the code before the normal form could store them (bulk_create skips it).
    rows = User.objects.bulk_create(
        User(username=username, email=email)
        for username, email in [
            ("plain", "plain@example.com"),  # normal already: untouched
            ("shouty", "Shouty@EXAMPLE.ORG"),
            ("unicode", "unicode@éxample.com"),
            # The older one's address changes, the newer one holds its normal form already.
            ("older", "dup@éxample.com"),
            ("newer", "dup@xn--xample-9ua.com"),
            # Both change into one: the older account keeps it.
            ("first", "twin@bücher.de"),
            ("second", "twin@bu\u0308cher.de"),  # the same, with a combining diaeresis
            ("snowman", "snow@☃.com"),  # no normal form
        ]
    )
    migration.normalize_emails(apps, None)

    emails = dict(User.objects.filter(pk__in=[r.pk for r in rows]).values_list("username", "email"))
    assert emails == {
        "plain": "plain@example.com",
        "shouty": "Shouty@example.org",
        "unicode": "unicode@xn--xample-9ua.com",
        "older": "dup@éxample.com",
        "newer": "dup@xn--xample-9ua.com",
        "first": "twin@xn--bcher-kva.de",
        "second": "twin@bu\u0308cher.de",
        "snowman": "snow@☃.com",
    }
    report = capsys.readouterr().out
    for username in ("older", "second", "snowman"):
        assert f"  {username} (id " in report
    assert "which newer has" in report
    assert "which first has" in report
    for username in ("plain", "shouty", "unicode", "first", "newer"):
        assert f"  {username} (id " not in report

    # Run again, nothing changes and the same accounts are named.
    migration.normalize_emails(apps, None)
    assert capsys.readouterr().out == report


def test_the_migration_says_nothing_when_every_address_is_normal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    migration = importlib.import_module("plaza.accounts.migrations.0005_email_normal_form")
    UserFactory.create_batch(3)
    migration.normalize_emails(apps, None)
    assert capsys.readouterr().out == ""
