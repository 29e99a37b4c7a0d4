"""Every object Plaza sends has one shape, the one its OpenAPI component declares: real REST
answers from every GET route and real live events of every type, validated strictly (no
field missing, none undeclared, every type and null as declared) against the schema that
GET /api/schema/ serves. Each domain package renders its objects once for both faces
(plaza/*/representations.py); this is what holds the faces and the schema to them."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from config.asgi import application
from plaza.graph.services import block_create, follow_create, mute_create, privacy_set
from plaza.messaging.services import conversation_get_or_create, message_send
from plaza.posts.models import PostEdit
from plaza.posts.services import (
    bookmark_create,
    comment_create,
    like_create,
    pin_create,
    post_create,
    post_edit_notify,
    post_update,
    repost_create,
)
from plaza.tags.services import tag_follow_create
from tests.factories import GIF, UserFactory, token_for, upload_for
from tests.helpers import client_for, strict_schema

REPO = Path(__file__).resolve().parent.parent

# Each live event's `data`, by type, and the component it is (docs/realtime.md says which
# REST answer each one repeats). `ping` and `pong` carry `{}`.
EVENT_COMPONENTS = {
    "notification.created": "Notification",
    "notifications.unread_count": "UnreadCount",
    "feed.post": "Post",
    "message.created": "Message",
    "conversation.read": "ReadState",
}
EMPTY_EVENTS = {"ping", "pong"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def assert_shape(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    jsonschema.validate(value, strict_schema(schema, components))


def component(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture
def world(settings: Any, tmp_path: Path) -> dict[str, Any]:
    """Every kind of object, made through the services: ada, private, with a follower
    (grace, who has an avatar), a pending follow request (carol), a block, a mute, posts (hers
    with a picture, reposted by grace before ada went private; grace's with a content
    warning, a mention of ada, a tag ada follows and a link, bookmarked by ada), a like and a
    comment on hers (so every kind of notification), and a conversation."""
    settings.MEDIA_ROOT = tmp_path
    ada, grace, carol, dan, erin = (
        UserFactory.create(username=name) for name in ("ada", "grace", "carol", "dan", "erin")
    )
    grace.avatar.save("face.gif", SimpleUploadedFile("face.gif", GIF), save=True)
    follow_create(follower=grace, followee=ada)
    follow_create(follower=ada, followee=grace)
    picture = upload_for(ada, description="A view", focus=(0.5, -0.25))
    post = post_create(author=ada, title="Hello", content="First", media_ids=[picture.pk])
    repost_create(user=grace, post=post)  # while ada was public
    privacy_set(user=ada, is_private=True)
    follow_create(follower=carol, followee=ada)  # a request now
    block_create(blocker=ada, blocked=dan)
    mute_create(muter=ada, muted=erin)
    answer = post_create(
        author=grace, content="Back @ada, #tea at https://example.com", spoiler_text="Tea talk"
    )
    bookmark_create(user=ada, post=answer)
    tag_follow_create(user=ada, name="tea")
    post_update(post=post, content="First, edited")  # a history
    pin_create(user=ada, post=post)
    post_edit_notify(edit_id=PostEdit.objects.latest("id").pk)  # `update` for grace, at once
    like_create(user=grace, post=post)
    comment = comment_create(author=grace, post=post, content="Nice")
    conversation, _ = conversation_get_or_create(creator=grace, usernames=["ada"])
    message_send(sender=grace, conversation=conversation, body="Tea?")
    return {
        "ada": ada,
        "post_id": post.pk,
        "comment_id": comment.pk,
        "conversation_id": conversation.pk,
        "media_id": picture.pk,
        "username": "grace",
        "name": "tea",
    }


def get_operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        if "get" in item and path not in {"/api/schema/", "/api/docs/"}:
            yield path, item["get"]


@pytest.mark.django_db
def test_every_get_route_answers_exactly_its_declared_shape(
    openapi: dict[str, Any], world: dict[str, Any]
) -> None:
    client = client_for(world["ada"])
    components = openapi["components"]["schemas"]
    checked = []
    for template, operation in get_operations(openapi):
        path = re.sub(r"{(\w+)}", lambda match: str(world[str(match.group(1))]), template)
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        body = response.json()
        assert_shape(body, schema, components)
        # An empty page would prove nothing about its items.
        items = body if isinstance(body, list) else body.get("results", [None])
        assert items, f"{path} listed nothing: the world lacks its objects"
        checked.append(template)
    assert len(checked) >= 20  # every GET route of the API, not a few


def test_a_field_the_schema_does_not_declare_is_refused(openapi: dict[str, Any]) -> None:
    """The validation these tests rely on is strict: an extra field, a missing one, or a
    null where none is declared each fail."""
    components = openapi["components"]["schemas"]
    post: dict[str, Any] = {
        "id": "1",
        "author": {"id": "2", "username": "ada", "display_name": "", "avatar": None},
        "title": "t",
        "content": "c",
        "spoiler_text": "",
        "sensitive": False,
        "entities": [
            {"type": "mention", "start": 0, "end": 4, "username": "ada", "id": "2"},
            {"type": "hashtag", "start": 5, "end": 9, "name": "tea"},
            {"type": "link", "start": 10, "end": 29, "url": "https://example.com"},
        ],
        "visibility": "public",
        "media_attachments": [],
        "created_at": "2026-12-03T00:00:00Z",
        "updated_at": "2026-12-03T00:00:00Z",
        "edited_at": None,
        "likes_count": 0,
        "comments_count": 0,
        "reposts_count": 0,
        "liked_by_me": None,
        "bookmarked_by_me": None,
        "pinned_by_me": None,
        "reposted_by_me": None,
    }
    assert_shape(post, component(openapi, "Post"), components)
    for broken in (
        {**post, "quotes_count": 0},
        {key: value for key, value in post.items() if key != "title"},
        {**post, "likes_count": None},
        {**post, "visibility": "friends"},
        {**post, "entities": [{"type": "mention", "start": 0, "end": 4, "username": "ada"}]},
        {**post, "entities": [{"type": "hashtag", "start": 0, "end": 4}]},
        {**post, "author": {**post["author"], "email": "ada@example.com"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            assert_shape(broken, component(openapi, "Post"), components)


def documented_event_types() -> set[str]:
    table = (REPO / "docs" / "realtime.md").read_text()
    return set(re.findall(r"^\| `([a-z_.]+)` \|", table, flags=re.MULTILINE))


def test_every_documented_event_has_a_declared_shape() -> None:
    assert documented_event_types() == {"session.ready", *EVENT_COMPONENTS, *EMPTY_EVENTS}


def socket_with(token: str) -> WebsocketCommunicator:
    headers = [(b"host", b"localhost"), (b"authorization", f"Token {token}".encode())]
    return WebsocketCommunicator(application, "/ws/", headers=headers)


async def events_until_quiet(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    events = []
    while not await communicator.receive_nothing(timeout=0.3):
        events.append(json.loads(await communicator.receive_from(timeout=3)))
    return events


@pytest.mark.django_db(transaction=True)
async def test_every_live_event_is_exactly_its_declared_shape(openapi: dict[str, Any]) -> None:
    ada, grace = await sync_to_async(UserFactory.create_batch)(2)
    ada_token, grace_token = await sync_to_async(lambda: (token_for(ada), token_for(grace)))()
    ada_socket, grace_socket = socket_with(ada_token), socket_with(grace_token)
    for communicator in (ada_socket, grace_socket):
        connected, _ = await communicator.connect(timeout=3)
        assert connected

    def act() -> None:
        follow_create(follower=grace, followee=ada)
        picture = upload_for(ada, description="A view")
        # feed.post to grace, with its picture
        post = post_create(author=ada, title="Live", content="Hello", media_ids=[picture.pk])
        like_create(user=grace, post=post)
        comment_create(author=grace, post=post, content="Nice")
        conversation, _ = conversation_get_or_create(creator=grace, usernames=[ada.username])
        message_send(sender=grace, conversation=conversation, body="Tea?")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {ada_token}")
        assert client.post(f"/api/conversations/{conversation.pk}/read/").status_code == 200

    await sync_to_async(act)()
    events = await events_until_quiet(ada_socket) + await events_until_quiet(grace_socket)
    await ada_socket.disconnect()
    await grace_socket.disconnect()

    components = openapi["components"]["schemas"]
    for event in events:
        assert set(event) == {"type", "id", "data"}
        if event["type"] == "session.ready":
            assert_shape(event["data"]["user"], component(openapi, "UserSummary"), components)
        else:
            name = EVENT_COMPONENTS[event["type"]]
            assert_shape(event["data"], component(openapi, name), components)
    assert {event["type"] for event in events} == {"session.ready", *EVENT_COMPONENTS}
    (live_post,) = [event["data"] for event in events if event["type"] == "feed.post"]
    assert [item["description"] for item in live_post["media_attachments"]] == ["A view"]
    assert live_post["media_attachments"][0]["url"].startswith("http")
