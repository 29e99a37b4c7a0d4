"""API3:2023 Broken Object Property Level Authorization: mass assignment of server-owned
fields, and private properties in answers.

Every operation that takes a body gets a valid body plus every server-owned field a client
could hope to set: ids, authors and owners (naming the victim), counters, timestamps,
`is_staff`, `is_superuser`, `is_active`, `email_verified`, a chosen token, read flags. The
request must do what the valid body asks and nothing more: no such value is stored anywhere
in the database or echoed back, nobody becomes staff, nothing is written in the victim's name.
`test_the_table_covers_every_operation_with_a_body` derives the operations from the schema,
so a new writable endpoint must be added here.

Already proven elsewhere, one endpoint at a time: tests/test_accounts.py
(test_register_ignores_server_owned_fields, test_patch_me_ignores_server_owned_fields,
test_profile_never_shows_email_even_to_a_signed_in_viewer), tests/test_posts.py
(test_create_ignores_server_owned_fields, test_update_ignores_server_owned_fields),
tests/test_comments.py (a PATCH cannot move a comment or change its author).
"""

import json
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from drf_spectacular.generators import SchemaGenerator

from plaza.accounts.models import User
from plaza.accounts.tasks import email_verification_token, password_reset_uid
from plaza.messaging.services import conversation_get_or_create
from plaza.posts.services import comment_create, post_create
from tests.factories import TEST_PASSWORD, image_file, upload_for
from tests.security.scenario import Scene, build_scene, snapshot

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct horse battery staple 42"
SENTINEL_NUMBER = 987654
SENTINEL_ID = "1234567"
SENTINEL_TIME = "2001-01-01T00:00:00Z"
CHOSEN_TOKEN = "plz_chosen-by-the-client"


def valid_bodies(scene: Scene) -> dict[tuple[str, str], dict[str, Any]]:
    """A body each operation accepts, acting as the attacker on the attacker's own objects."""
    actor = scene.attacker
    return {
        ("POST", "/api/auth/register/"): {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password": GOOD_PASSWORD,
        },
        ("POST", "/api/auth/login/"): {"username": actor.username, "password": TEST_PASSWORD},
        ("POST", "/api/auth/password/reset/"): {"email": actor.email},
        ("POST", "/api/auth/password/reset/confirm/"): {
            "uid": password_reset_uid(actor),
            "token": default_token_generator.make_token(actor),
            "new_password": GOOD_PASSWORD,
        },
        ("POST", "/api/auth/email/verify/"): {"token": email_verification_token(actor)},
        ("POST", "/api/auth/password/change/"): {
            "current_password": TEST_PASSWORD,
            "new_password": GOOD_PASSWORD,
        },
        ("PATCH", "/api/me/"): {"display_name": "Attacker", "bio": "Hello"},
        ("DELETE", "/api/me/"): {"password": TEST_PASSWORD},
        ("POST", "/api/posts/"): {"title": "Mine", "content": "Mine"},
        ("PUT", "/api/posts/{post_id}/"): {"title": "Edited", "content": "Edited"},
        ("PATCH", "/api/posts/{post_id}/"): {"title": "Edited"},
        ("POST", "/api/posts/{post_id}/comments/"): {"content": "A comment"},
        ("PATCH", "/api/comments/{comment_id}/"): {"content": "Edited"},
        ("POST", "/api/conversations/"): {"participants": [scene.friend.username]},
        ("POST", "/api/conversations/{conversation_id}/messages/"): {"body": "Hello"},
        ("POST", "/api/media/"): {"file": image_file(), "description": "A picture"},
        ("PATCH", "/api/media/{media_id}/"): {"description": "Edited", "focus": "0.5,0.5"},
        ("PUT", "/api/me/avatar/"): {"file": image_file()},
        ("PUT", "/api/me/header/"): {"file": image_file()},
    }


# Sent as a multipart form (an upload); every other body is JSON.
MULTIPART_OPERATIONS = {
    ("POST", "/api/media/"),
    ("PUT", "/api/me/avatar/"),
    ("PUT", "/api/me/header/"),
}


def server_owned(scene: Scene) -> dict[str, Any]:
    """What a client must not be able to set, pointing at the victim where it names someone."""
    victim = str(scene.victim.pk)
    counters = [
        "likes_count",
        "comments_count",
        "followers_count",
        "following_count",
        "posts_count",
        "muting_count",
        "unread_count",
        "updated",
    ]
    people = ["author", "author_id", "user", "user_id", "owner", "sender", "sender_id"]
    people += ["recipient", "recipient_id", "actor", "actor_id", "follower", "followee"]
    times = ["created_at", "updated_at", "date_joined", "last_login", "joined_at"]
    return {
        "id": SENTINEL_ID,
        "pk": SENTINEL_ID,
        **dict.fromkeys(people, victim),
        "post": str(scene.post.pk),
        "post_id": str(scene.post.pk),
        "conversation_id": str(scene.conversation.pk),
        **dict.fromkeys(counters, SENTINEL_NUMBER),
        **dict.fromkeys(times, SENTINEL_TIME),
        "email_verified_at": SENTINEL_TIME,
        "email_verified": True,
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "groups": [1],
        "user_permissions": [1],
        "liked_by_me": True,
        "read": True,
        "last_read_message_id": str(scene.message.pk),
        "token": CHOSEN_TOKEN,
        "digest": "0" * 64,
        "avatar": "https://evil.example/avatar.png",
        "header": "https://evil.example/header.png",
        "participants_key": "1,2",
        # An upload's: where it is stored, what it is, and where it is attached.
        "url": "https://evil.example/picture.png",
        "preview_url": "https://evil.example/preview.png",
        "preview": "https://evil.example/preview.png",
        **dict.fromkeys(["width", "height", "preview_width", "preview_height"], SENTINEL_NUMBER),
        "blurhash": "evil.example",
        "type": "video",
        "kind": "video",
        "content_type": "text/html",
        "position": SENTINEL_NUMBER,
    }


@pytest.fixture
def scene() -> Scene:
    scene = build_scene()
    # The attacker's own objects, which the operations on ids act on.
    own_post = post_create(author=scene.attacker, title="Own", content="Own")
    scene.post = own_post
    scene.comment = comment_create(author=scene.attacker, post=own_post, content="Own")
    scene.conversation, _created = conversation_get_or_create(
        creator=scene.attacker, usernames=[scene.friend.username]
    )
    scene.media = upload_for(scene.attacker)
    return scene


def body_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }


def test_the_table_covers_every_operation_with_a_body(scene: Scene) -> None:
    assert set(valid_bodies(scene)) == body_operations()


def in_the_victims_name(scene: Scene) -> dict[str, Any]:
    """The victim's account (less counters others' actions move) and what they wrote."""
    state = snapshot(counters=False)
    victim = scene.victim.pk
    return {
        "account": [row for row in state["accounts.User"] if row["id"] == victim],
        "posts": [row["id"] for row in state["posts.Post"] if row["author_id"] == victim],
        "comments": [row["id"] for row in state["posts.Comment"] if row["author_id"] == victim],
        "messages": [row["id"] for row in state["messaging.Message"] if row["sender_id"] == victim],
    }


def multipart(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as the multipart form a browser would send."""
    return {
        "data": encode_multipart(BOUNDARY, body),
        "content_type": MULTIPART_CONTENT,
    }


def stored_values(value: Any) -> list[Any]:
    """Every scalar in a snapshot."""
    if isinstance(value, dict):
        return [item for entry in value.values() for item in stored_values(entry)]
    if isinstance(value, list):
        return [item for entry in value for item in stored_values(entry)]
    return [value]


@pytest.mark.parametrize(
    "operation", sorted(body_operations()), ids=lambda operation: " ".join(operation)
)
def test_server_owned_fields_cannot_be_set(scene: Scene, operation: tuple[str, str]) -> None:
    method, path = operation
    valid = valid_bodies(scene)[operation]
    body = {**server_owned(scene), **valid}  # the real inputs keep their valid values
    victims_before = in_the_victims_name(scene)

    client = scene.client(scene.attacker)
    if operation in MULTIPART_OPERATIONS:
        response = client.generic(method, scene.path(path), **multipart(body))
    else:
        response = client.generic(method, scene.path(path), json.dumps(body), "application/json")

    assert response.status_code < 300, response.content
    text = response.content.decode()
    for echoed in (str(SENTINEL_NUMBER), SENTINEL_TIME[:10], CHOSEN_TOKEN, "evil.example"):
        assert echoed not in text, echoed
    if response.content:
        answer = json.loads(response.content)
        assert answer.get("id") != SENTINEL_ID

    everything = stored_values(snapshot())
    assert SENTINEL_NUMBER not in everything
    assert int(SENTINEL_ID) not in everything
    assert not any(isinstance(value, datetime) and value.year == 2001 for value in everything)
    assert not User.objects.filter(is_staff=True).exists()
    assert not User.objects.filter(is_superuser=True).exists()
    assert not User.objects.filter(groups__isnull=False).exists()
    assert not User.objects.filter(user_permissions__isnull=False).exists()
    # Only the avatar and header routes set those, and only from the uploaded file.
    for image in ("avatar", "header"):
        assert not User.objects.filter(**{f"{image}__contains": "evil"}).exists()
        if operation != ("PUT", f"/api/me/{image}/"):
            assert not User.objects.exclude(**{image: ""}).exists()
    # Nothing new in the victim's name, and the victim's account is as it was.
    assert in_the_victims_name(scene) == victims_before
    if operation != ("DELETE", "/api/me/"):
        attacker = User.objects.get(pk=scene.attacker.pk)
        assert attacker.is_active
        if operation != ("POST", "/api/auth/email/verify/"):
            assert attacker.email_verified_at is None
