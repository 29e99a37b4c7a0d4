"""API5:2023 Broken Function Level Authorization: staff-only functions are staff-only.

Plaza's only privileged functions are the admin's (/admin/: accounts, moderation of posts and
comments). The API has no staff routes: a staff member's token does exactly what anyone's
does. So: every admin page and action refuses anonymous visitors and signed-in non-staff
accounts (taken from the admin's own urlconf, every registered model's list, add, change,
delete and history pages); an API token never opens the admin; and a staff account's token
gets the same refusals as anyone's on others' objects.

Already proven elsewhere: tests/test_admin.py (what staff can do there: posts and comments are
read-only but deletable); tests/test_errors.py (test_wrong_method_is_405_json: no route
answers a method it does not document, so there is no hidden DELETE of an account or a
user); tests/security/test_api3_object_property_authorization.py (nobody makes themselves
staff through the API).
"""

import json

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from plaza.accounts.models import User
from tests.factories import UserFactory, token_for
from tests.security.object_operations import OBJECT_OPERATIONS, Rule
from tests.security.scenario import Scene, build_scene, snapshot

pytestmark = pytest.mark.django_db


def admin_pages(scene: Scene) -> list[str]:
    """The admin's index, and every page of every registered model, on a real object."""
    objects = {
        User: scene.victim,
        type(scene.post): scene.post,
        type(scene.comment): scene.comment,
    }
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        meta = model._meta
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        pages += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        instance = objects.get(model) or model._default_manager.first()
        if instance is not None:
            for page in ("change", "delete", "history"):
                pages.append(reverse(f"{prefix}_{page}", args=[instance.pk]))
    return pages


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def refused(response: object) -> bool:
    """The admin sends whoever is not staff to its login page."""
    status = getattr(response, "status_code", None)
    location = getattr(response, "headers", {}).get("Location", "")
    return status == 302 and location.startswith(reverse("admin:login"))


@pytest.mark.parametrize("who", ["anonymous", "signed-in account", "api token of staff"])
def test_no_admin_page_or_action_opens_to_non_staff(scene: Scene, who: str) -> None:
    browser = Client()
    if who == "signed-in account":
        browser.force_login(scene.attacker)  # a session, as the admin's own login would make
    elif who == "api token of staff":
        staff = UserFactory.create(is_staff=True, is_superuser=True)
        browser = Client(HTTP_AUTHORIZATION=f"Token {token_for(staff)}")
    pages = admin_pages(scene)
    assert len(pages) > 10  # the walk found the registered models
    before = snapshot()
    for page in pages:
        assert refused(browser.get(page)), (who, page)
        # Actions are POSTs: deleting the victim, changing them into staff.
        assert refused(browser.post(page, {"post": "yes", "is_staff": "on"})), (who, page)
    assert snapshot() == before
    assert not User.objects.filter(pk=scene.victim.pk, is_staff=True).exists()


def test_staff_do_reach_the_admin(scene: Scene) -> None:
    """Guards the test above: the pages it walks are real, and open to staff (or closed to
    everyone on purpose, like adding a token by hand: 403, not the login page)."""
    staff = Client()
    staff.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    answers = {page: staff.get(page).status_code for page in admin_pages(scene)}
    assert set(answers.values()) <= {200, 403}, answers
    assert list(answers.values()).count(200) > len(answers) / 2, answers


@pytest.mark.parametrize(
    "operation",
    sorted(op for op, expect in OBJECT_OPERATIONS.items() if expect.rule is Rule.REFUSED),
    ids=" ".join,
)
def test_a_staff_token_has_no_extra_power_in_the_api(
    scene: Scene, operation: tuple[str, str]
) -> None:
    """Moderation happens in the admin, on a session; through the API a staff account is an
    account like any other."""
    User.objects.filter(pk=scene.attacker.pk).update(is_staff=True, is_superuser=True)
    method, path = operation
    expect = OBJECT_OPERATIONS[operation]
    before = snapshot()
    response = scene.client(scene.attacker).generic(
        method, scene.path(path), json.dumps(expect.body or {}), "application/json"
    )
    assert response.status_code == expect.status, response.content
    assert snapshot() == before
