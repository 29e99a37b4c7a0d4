"""API1:2023 Broken Object Level Authorization: another user's objects, named by id.

An attacker with an account of their own takes every route that names an object (an id or a
username in the path) and points it at the victim's objects: reading private ones, editing,
deleting, marking read, posting into a conversation they are not in. The table in
tests/security/object_operations.py says, for every such route and method, what must happen;
`test_the_table_covers_every_route_with_an_object` derives the routes from the urlconf, so a
new route cannot be added without saying there who may use it on whose objects.

Already proven elsewhere, per domain: tests/test_posts.py (test_others_cannot_change_a_post),
tests/test_comments.py (others' PATCH and DELETE), tests/test_notifications.py
(test_cannot_read_another_users_notification, test_mark_all_read_leaves_other_users_alone,
test_other_users_notifications_are_not_listed), tests/test_messaging.py
(test_outsiders_get_404_on_every_conversation_endpoint, test_list_holds_only_your_conversations).
This module adds the route-complete table, the whole-database check that a refused request
changed nothing, and the check that acting on one's own relation to someone else's object (a
like, a follow, a block) never touches anyone else's.
"""

import json
import re

import pytest

from tests.routes import rest_routes
from tests.security.object_operations import OBJECT_OPERATIONS, Rule
from tests.security.scenario import Scene, build_scene, snapshot

pytestmark = pytest.mark.django_db


# What a refused read must not let slip, whatever its status.
SECRETS = ("Just between us",)


def op_id(operation: tuple[str, str]) -> str:
    return " ".join(operation)


def test_the_table_covers_every_route_with_an_object() -> None:
    named = {
        (method.upper(), path)
        for path, methods in rest_routes().items()
        if re.search(r"\{\w+\}", path)
        for method in methods
    }
    assert set(OBJECT_OPERATIONS) == named


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def send(scene: Scene, signed_in: bool, operation: tuple[str, str]) -> tuple[int, bytes]:
    method, path = operation
    expect = OBJECT_OPERATIONS[operation]
    client = scene.client(scene.attacker if signed_in else None)
    response = client.generic(
        method, scene.path(path), json.dumps(expect.body or {}), "application/json"
    )
    return response.status_code, response.content


@pytest.mark.parametrize("operation", sorted(OBJECT_OPERATIONS), ids=op_id)
def test_an_attacker_on_the_victims_objects(scene: Scene, operation: tuple[str, str]) -> None:
    expect = OBJECT_OPERATIONS[operation]
    if expect.rule is Rule.OWN:
        # Liking, following, blocking: only rows involving the attacker may change (and the
        # counters those move on the victim's rows).
        before = snapshot(apart_from=scene.attacker, counters=False)
        status, _content = send(scene, True, operation)
        assert status == expect.status
        assert snapshot(apart_from=scene.attacker, counters=False) == before
        return

    before = snapshot()
    status, content = send(scene, True, operation)
    assert status == expect.status, content
    if expect.rule is Rule.REFUSED:
        assert json.loads(content)["code"] in ("permission_denied", "not_found")
        for secret in SECRETS:
            assert secret.encode() not in content
    assert snapshot() == before


@pytest.mark.parametrize(
    "operation",
    sorted(op for op, expect in OBJECT_OPERATIONS.items() if expect.rule is not Rule.PUBLIC),
    ids=op_id,
)
def test_anonymous_callers_are_refused_and_change_nothing(
    scene: Scene, operation: tuple[str, str]
) -> None:
    before = snapshot()
    status, content = send(scene, False, operation)
    assert status == 401, content
    for secret in SECRETS:
        assert secret.encode() not in content
    assert snapshot() == before


def test_undoing_ones_own_relations_never_undoes_anyone_elses(scene: Scene) -> None:
    """The victim and the friend like the post and follow each other; the attacker, who has
    none of these, 'undoes' them all: the answers say there was nothing to undo."""
    attacker = scene.client(scene.attacker)
    before = snapshot()
    assert attacker.delete(scene.path("/api/posts/{post_id}/like/")).status_code == 204
    assert attacker.delete(scene.path("/api/users/{username}/follow/")).status_code == 204
    assert attacker.delete("/api/users/friend/follow/").status_code == 204
    assert snapshot() == before


def test_marking_everything_read_marks_only_ones_own(scene: Scene) -> None:
    before = snapshot()
    response = scene.client(scene.attacker).post("/api/notifications/read-all/")
    assert response.status_code == 200
    assert response.json() == {"updated": 0}
    assert snapshot() == before


def test_the_attackers_own_views_show_none_of_the_victims_private_objects(scene: Scene) -> None:
    attacker = scene.client(scene.attacker)
    for path in (
        "/api/notifications/",
        "/api/notifications/unread-count/",
        "/api/conversations/",
        "/api/feed/",
        "/api/me/",
        "/api/me/export/",
    ):
        response = attacker.get(path)
        assert response.status_code == 200, path
        text = response.content.decode()
        for private in (*SECRETS, "victim@example.com", str(scene.notification.pk)):
            assert private not in text, (path, private)
        assert str(scene.conversation.pk) not in text, path
