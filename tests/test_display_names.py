"""Display names refuse invisible characters that let one name pass for another (a zero-width
space inside "admin") or reorder what is shown after them (a right-to-left override), on
every path that sets one (the REST API, the admin), and still take emoji sequences."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from plaza.accounts.models import User, validate_display_name
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db

REFUSED = {
    "right-to-left override": "\u202enimda",
    "left-to-right embedding": "a\u202ab",
    "right-to-left embedding": "a\u202bb",
    "pop directional formatting": "a\u202cb",
    "left-to-right override": "a\u202db",
    "left-to-right isolate": "\u2066admin\u2069",
    "right-to-left isolate": "a\u2067b",
    "first strong isolate": "a\u2068b",
    "pop directional isolate": "ab\u2069",
    "left-to-right mark": "\u200eadmin",
    "right-to-left mark": "admin\u200f",
    "arabic letter mark": "a\u061cb",
    "zero-width space": "ad\u200bmin",
    "zero-width non-joiner": "ad\u200cmin",
    "word joiner": "ad\u2060min",
    "byte order mark": "\ufeffadmin",
    "soft hyphen": "ad\u00admin",
    "lone zero-width joiner between letters": "ad\u200dmin",
    "zero-width joiner at the end of an emoji": "\U0001f469\u200d",
    "zero-width joiner at the start": "\u200d\U0001f4bb",
    "two zero-width joiners": "\U0001f469\u200d\u200d\U0001f4bb",
    "tag letters outside a flag": "admin\U000e0061\U000e007f",
    "an unterminated flag tag": "\U0001f3f4\U000e0067\U000e0062",
    "newline": "Ada\nLovelace",
    "tab": "Ada\tLovelace",
    "escape": "Ada\x1b[31m",
    "delete": "Ada\x7f",
    "C1 control": "Ada\x85Lovelace",
    "line separator": "Ada\u2028Lovelace",
    "paragraph separator": "Ada\u2029Lovelace",
}

ACCEPTED = {
    "plain": "Ada Lovelace",
    "accents": "Zoë Ångström",
    "woman technologist (ZWJ)": "\U0001f469\u200d\U0001f4bb Ada",
    "skin tone before a ZWJ": "\U0001f468\U0001f3fd\u200d\U0001f4bb",
    "variation selector before a ZWJ (rainbow flag)": "\U0001f3f3\ufe0f\u200d\U0001f308",
    "heart on fire": "\u2764\ufe0f\u200d\U0001f525",
    "family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "variation selector": "\u263a\ufe0f",
    "keycap": "1\ufe0f\u20e3",
    "country flag": "\U0001f1f3\U0001f1ff",
    "Scotland's flag (tags)": "\U0001f3f4"
    + "\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074"
    + "\U000e007f",
    "Sinhala conjunct (ZWJ after a virama)": "\u0dc1\u0dca\u200d\u0dbb\u0dd3",
    "Hebrew": "\u05e9\u05dc\u05d5\u05dd",
    "Arabic": "\u0645\u0631\u062d\u0628\u0627",
    "Japanese": "\u5c71\u7530\u592a\u90ce",
    "empty": "",
}


def patch_display_name(user: User, display_name: str) -> Any:
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client.patch("/api/me/", {"display_name": display_name}, format="json")


@pytest.mark.parametrize("display_name", REFUSED.values(), ids=REFUSED.keys())
def test_invisible_and_control_characters_are_refused(display_name: str) -> None:
    user = UserFactory.create(display_name="Before")
    response = patch_display_name(user, display_name)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_display_name"
    assert body["message"].startswith("Display names cannot contain invisible or control")
    assert body["message"] in body["fields"]["display_name"]
    assert "U+" in body["message"]  # names the character, which the client cannot see
    user.refresh_from_db()
    assert user.display_name == "Before"


def test_the_message_names_the_character() -> None:
    response = patch_display_name(UserFactory.create(), "\u202enimda")
    assert response.json()["message"] == (
        "Display names cannot contain invisible or control characters: "
        "U+202E RIGHT-TO-LEFT OVERRIDE."
    )


def test_nothing_of_a_refused_change_is_saved() -> None:
    user = UserFactory.create(display_name="Before", bio="Before")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    body = {"display_name": "ad\u200bmin", "bio": "After"}
    assert client.patch("/api/me/", body, format="json").status_code == 400
    user.refresh_from_db()
    assert (user.display_name, user.bio) == ("Before", "Before")


@pytest.mark.parametrize("display_name", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_names_emoji_sequences_and_scripts_are_accepted(display_name: str) -> None:
    user = UserFactory.create()
    response = patch_display_name(user, display_name)
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == display_name
    user.refresh_from_db()
    assert user.display_name == display_name


@pytest.mark.parametrize("display_name", REFUSED.values(), ids=REFUSED.keys())
def test_the_model_field_carries_the_rule(display_name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_display_name(display_name)
    assert refused.value.code == "invalid_display_name"
    user = UserFactory.build(display_name=display_name)
    with pytest.raises(ValidationError) as cleaned:
        user.full_clean()
    assert "display_name" in cleaned.value.message_dict


def test_the_admin_refuses_an_invisible_character() -> None:
    user = UserFactory.create(display_name="Before")
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    change = f"/admin/accounts/user/{user.pk}/change/"
    form = {
        "username": user.username,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "bio": "",
    }
    refused = client.post(change, {**form, "display_name": "\u202enimda"})
    assert refused.status_code == 200  # the form again, with its error
    assert "invisible or control characters" in refused.content.decode()
    user.refresh_from_db()
    assert user.display_name == "Before"

    accepted = client.post(change, {**form, "display_name": "\U0001f469\u200d\U0001f4bb"})
    assert accepted.status_code == 302, accepted.content.decode()[:2000]
    user.refresh_from_db()
    assert user.display_name == "\U0001f469\u200d\U0001f4bb"
