"""Bad input is a 4xx in Plaza's one error shape, never a 500, on every endpoint it applies to.

The tables below name every route of plaza.rest.urls; `test_route_table_matches_the_urlconf`
fails when a route is added without being added here, so new endpoints get the same checks.
"""

import base64
import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse
from django.test import AsyncClient
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.graph.models import Block, Follow, FollowRequest, Mute
from plaza.graph.services import follow_create
from plaza.media.models import MediaAttachment
from plaza.messaging.models import Conversation, ConversationMember, Message, participants_key
from plaza.messaging.services import conversation_get_or_create, message_send
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Bookmark, Comment, Like, Post, PostEdit, Repost
from plaza.posts.services import bookmark_create
from plaza.tags.models import PostTag, Tag, TagFollow
from tests.factories import (
    TEST_PASSWORD,
    CommentFactory,
    FollowRequestFactory,
    PostFactory,
    UserFactory,
    token_for,
    upload_for,
)
from tests.helpers import SharedRows, client_for
from tests.routes import rest_routes

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as TestResponse

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct horse battery staple 42"
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Every route under /api/ and the methods it answers (besides HEAD and OPTIONS).
ROUTES: dict[str, set[str]] = {
    "/api/health/": {"GET"},
    "/api/auth/register/": {"POST"},
    "/api/auth/login/": {"POST"},
    "/api/auth/logout/": {"POST"},
    "/api/auth/logout-all/": {"POST"},
    "/api/auth/password/reset/": {"POST"},
    "/api/auth/password/reset/confirm/": {"POST"},
    "/api/auth/password/change/": {"POST"},
    "/api/auth/email/verify/": {"POST"},
    "/api/auth/email/verify/resend/": {"POST"},
    "/api/me/": {"GET", "PATCH", "DELETE"},
    "/api/me/export/": {"GET"},
    "/api/me/avatar/": {"PUT", "DELETE"},
    "/api/me/header/": {"PUT", "DELETE"},
    "/api/me/blocks/": {"GET"},
    "/api/me/mutes/": {"GET"},
    "/api/me/bookmarks/": {"GET"},
    "/api/me/tags/": {"GET"},
    "/api/me/followers/{username}/": {"DELETE"},
    "/api/follow-requests/": {"GET"},
    "/api/follow-requests/{request_id}/accept/": {"POST"},
    "/api/follow-requests/{request_id}/reject/": {"POST"},
    "/api/users/": {"GET"},
    "/api/users/{username}/": {"GET"},
    "/api/users/{username}/follow/": {"POST", "DELETE"},
    "/api/users/{username}/block/": {"POST", "DELETE"},
    "/api/users/{username}/mute/": {"POST", "DELETE"},
    "/api/users/{username}/followers/": {"GET"},
    "/api/users/{username}/following/": {"GET"},
    "/api/posts/": {"GET", "POST"},
    "/api/posts/{post_id}/": {"GET", "PUT", "PATCH", "DELETE"},
    "/api/posts/{post_id}/comments/": {"GET", "POST"},
    "/api/posts/{post_id}/like/": {"POST", "DELETE"},
    "/api/posts/{post_id}/likes/": {"GET"},
    "/api/posts/{post_id}/repost/": {"POST", "DELETE"},
    "/api/posts/{post_id}/reposted-by/": {"GET"},
    "/api/posts/{post_id}/bookmark/": {"POST", "DELETE"},
    "/api/posts/{post_id}/history/": {"GET"},
    "/api/posts/{post_id}/pin/": {"POST", "DELETE"},
    "/api/tags/{name}/": {"GET"},
    "/api/tags/{name}/posts/": {"GET"},
    "/api/tags/{name}/follow/": {"POST", "DELETE"},
    "/api/trends/tags/": {"GET"},
    "/api/comments/{comment_id}/": {"GET", "PATCH", "DELETE"},
    "/api/feed/": {"GET"},
    "/api/notifications/": {"GET"},
    "/api/notifications/unread-count/": {"GET"},
    "/api/notifications/read-all/": {"POST"},
    "/api/notifications/{notification_id}/read/": {"POST"},
    "/api/media/": {"POST"},
    "/api/media/{media_id}/": {"GET", "PATCH", "DELETE"},
    "/api/realtime/ticket/": {"POST"},
    "/api/conversations/": {"GET", "POST"},
    "/api/conversations/{conversation_id}/": {"GET"},
    "/api/conversations/{conversation_id}/messages/": {"GET", "POST"},
    "/api/conversations/{conversation_id}/read/": {"POST"},
    "/api/schema/": {"GET"},
    "/api/docs/": {"GET"},
}

OPERATIONS = sorted((method, path) for path, methods in ROUTES.items() for method in methods)

# Operations that read a JSON body, with a body they accept.
POST_BODY = {
    "title": "A title",
    "content": "Some content",
    "spoiler_text": "Mild peril",
    "sensitive": False,
    "media_ids": [],
}
BODY_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/auth/register/"): {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": GOOD_PASSWORD,
    },
    ("POST", "/api/auth/login/"): {"username": "owner", "password": TEST_PASSWORD},
    ("POST", "/api/auth/password/reset/"): {"email": "owner@example.com"},
    ("POST", "/api/auth/password/reset/confirm/"): {
        "uid": "MQ",
        "token": "not-a-real-token",
        "new_password": GOOD_PASSWORD,
    },
    ("POST", "/api/auth/email/verify/"): {"token": "not-a-real-token"},
    ("POST", "/api/auth/password/change/"): {
        "current_password": TEST_PASSWORD,
        "new_password": GOOD_PASSWORD,
    },
    ("DELETE", "/api/me/"): {"password": TEST_PASSWORD},
    ("PATCH", "/api/me/"): {
        "display_name": "Owner",
        "bio": "Hello",
        "profile_fields": [],
        "email": "o@example.com",
        "current_password": TEST_PASSWORD,
    },
    ("POST", "/api/posts/"): POST_BODY,
    ("PUT", "/api/posts/{post_id}/"): POST_BODY,
    ("PATCH", "/api/posts/{post_id}/"): POST_BODY,
    ("POST", "/api/posts/{post_id}/comments/"): {"content": "A comment"},
    ("PATCH", "/api/comments/{comment_id}/"): {"content": "An edit"},
    ("POST", "/api/conversations/"): {"participants": ["other"]},
    ("POST", "/api/conversations/{conversation_id}/messages/"): {"body": "A message"},
    ("PATCH", "/api/media/{media_id}/"): {"description": "A red and blue flag", "focus": "0,0.5"},
}
# Operations whose body is a multipart form (uploads): tests/test_media.py refuses bad ones.
MULTIPART_OPERATIONS = {
    ("POST", "/api/media/"),
    ("PUT", "/api/me/avatar/"),
    ("PUT", "/api/me/header/"),
}
BODY_FIELDS = sorted((op, field) for op, body in BODY_OPERATIONS.items() for field in body)
# The fields that take text (the others take lists): length limits and characters apply.
TEXT_FIELDS = [
    (op, field) for op, field in BODY_FIELDS if isinstance(BODY_OPERATIONS[op][field], str)
]

LIST_ROUTES = [
    "/api/users/",
    "/api/users/{username}/followers/",
    "/api/users/{username}/following/",
    "/api/posts/",
    "/api/posts/{post_id}/comments/",
    "/api/posts/{post_id}/likes/",
    "/api/posts/{post_id}/reposted-by/",
    "/api/feed/",
    "/api/notifications/",
    "/api/conversations/",
    "/api/conversations/{conversation_id}/messages/",
    "/api/me/blocks/",
    "/api/me/mutes/",
    "/api/me/bookmarks/",
    "/api/me/tags/",
    "/api/tags/{name}/posts/",
    "/api/posts/{post_id}/history/",
    "/api/follow-requests/",
]

ID_OPERATIONS = [(m, p) for m, p in OPERATIONS if re.search(r"\{\w+_id\}", p)]
USERNAME_OPERATIONS = [(m, p) for m, p in OPERATIONS if "{username}" in p]
WRITE_OPERATIONS = [(m, p) for m, p in OPERATIONS if m != "GET"]


@dataclass
class World:
    """A signed-in owner with one of everything a path can point at."""

    owner: User
    other: User
    post: Post
    comment: Comment
    notification: Notification
    conversation: Conversation
    follow_request: FollowRequest
    media: MediaAttachment
    client: APIClient

    def url(self, template: str) -> str:
        return template.format(
            username=self.other.username,
            post_id=self.post.pk,
            comment_id=self.comment.pk,
            notification_id=self.notification.pk,
            conversation_id=self.conversation.pk,
            request_id=self.follow_request.pk,
            media_id=self.media.pk,
            name="crowded",
        )

    def snapshot(self) -> dict[str, Any]:
        """What a refused request must leave as it was."""
        return {
            "users": list(User.objects.order_by("pk").values()),
            "posts": list(Post.objects.order_by("pk").values()),
            "comments": list(Comment.objects.order_by("pk").values()),
            "likes": Like.objects.count(),
            "follows": Follow.objects.count(),
            "follow_requests": FollowRequest.objects.count(),
            "blocks": Block.objects.count(),
            "mutes": Mute.objects.count(),
            "tokens": AuthToken.objects.count(),
            "notifications": list(
                Notification.objects.order_by("pk").values_list("pk", "recipient_id", "read")
            ),
            "conversations": list(Conversation.objects.order_by("pk").values()),
            "members": list(ConversationMember.objects.order_by("pk").values()),
            "messages": list(Message.objects.order_by("pk").values()),
            "media": list(MediaAttachment.objects.order_by("pk").values()),
        }


@pytest.fixture(scope="module")
def shared_world(module_db: SharedRows) -> World:
    """The module's world, made once: every test sees it as it was made, since each runs in
    a savepoint rolled back afterwards (see `module_db`)."""
    with module_db():
        owner = UserFactory.create(username="owner", email="owner@example.com")
        other = UserFactory.create(username="other", email="other@example.com")
        post = PostFactory.create(author=owner)
        comment = CommentFactory.create(post=post, author=owner)
        follow_create(follower=other, followee=owner)
        notification = Notification.objects.get(recipient=owner)
        conversation, _created = conversation_get_or_create(creator=other, usernames=["owner"])
        message_send(sender=other, conversation=conversation, body="Hello")
        follow_request = FollowRequestFactory.create(target=owner)
        media = upload_for(owner)
        bookmark_create(user=owner, post=post)
        client = client_for(owner)
    return World(
        owner, other, post, comment, notification, conversation, follow_request, media, client
    )


@pytest.fixture
def world(db: None, shared_world: World) -> World:
    """The shared world with a client of the test's own, so that no cookie or credential one
    test sets reaches the next. The model instances are the shared ones: tests read them and
    never change them."""
    return replace(shared_world, client=client_for(shared_world.owner))


def assert_error(response: HttpResponse, status: int | None = None) -> dict[str, Any]:
    """A 4xx (or the given status) in the one error shape."""
    if status is None:
        assert 400 <= response.status_code < 500, response.content
    else:
        assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "fields"}, body
    assert isinstance(body["code"], str)
    assert body["code"]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    for name, messages in body["fields"].items():
        assert isinstance(name, str)
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) for message in messages)
    assert "Traceback" not in response.content.decode()
    return body


def send(
    client: APIClient, method: str, url: str, body: bytes | str = b"", content_type: str = ""
) -> "TestResponse":
    data = body.encode() if isinstance(body, str) else body
    return client.generic(method, url, data, content_type or "application/json")  # type: ignore[arg-type]


def send_json(client: APIClient, method: str, url: str, data: Any) -> "TestResponse":
    # json.dumps escapes what the test client's encoder would refuse (lone surrogates).
    return send(client, method, url, json.dumps(data))


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


# --- The tables cover the whole API -------------------------------------------------------


def test_route_table_matches_the_urlconf() -> None:
    assert {
        path: {method.upper() for method in methods} for path, methods in rest_routes().items()
    } == ROUTES


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_body_tables_match_the_operations_that_take_a_body(schema: dict[str, Any]) -> None:
    bodies = {
        (method.upper(), path): set(operation["requestBody"]["content"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert {op for op, types in bodies.items() if "application/json" in types} == set(
        BODY_OPERATIONS
    )
    assert {op for op, types in bodies.items() if "multipart/form-data" in types} == (
        MULTIPART_OPERATIONS
    )


def test_list_table_matches_the_paginated_operations(schema: dict[str, Any]) -> None:
    paginated = {
        path
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))
    }
    assert paginated == set(LIST_ROUTES)


# --- Malformed bodies ---------------------------------------------------------------------

MALFORMED_BODIES: list[tuple[str, bytes, str, int]] = [
    ("truncated", b'{"title": "a", ', "application/json", 400),
    ("not-json", b"{bad json}", "application/json", 400),
    ("trailing-comma", b'{"title": "a",}', "application/json", 400),
    ("single-quotes", b"{'title': 'a'}", "application/json", 400),
    ("empty-list", b"[]", "application/json", 400),
    ("list", b"[1, 2, 3]", "application/json", 400),
    ("list-of-objects", b'[{"title": "a", "content": "b"}]', "application/json", 400),
    ("string", b'"just a string"', "application/json", 400),
    ("number", b"42", "application/json", 400),
    ("null", b"null", "application/json", 400),
    ("true", b"true", "application/json", 400),
    ("nan", b'{"title": NaN}', "application/json", 400),
    ("infinity", b'{"title": -Infinity}', "application/json", 400),
    ("invalid-utf8", b'{"title": "\xff\xfe"}', "application/json", 400),
    ("deeply-nested", b"[" * 100_000, "application/json", 400),
    ("nested-and-closed", b"[" * 3_000 + b"]" * 3_000, "application/json", 400),
    ("nested-object", b'{"a":' * 3_000 + b"1" + b"}" * 3_000, "application/json", 400),
    ("huge-integer", b'{"title": 1' + b"0" * 5_000 + b"}", "application/json", 400),
    ("bad-charset", b'{"title": "a"}', "application/json; charset=rot13", 400),
    ("text-plain", b'{"title": "a"}', "text/plain", 415),
    ("form", b"title=a&content=b", "application/x-www-form-urlencoded", 415),
    ("multipart", b"--x--", "multipart/form-data; boundary=x", 415),
    ("xml", b"<post><title>a</title></post>", "application/xml", 415),
]


def op_id(operation: tuple[str, str]) -> str:
    return " ".join(operation)


@pytest.mark.parametrize("operation", sorted(BODY_OPERATIONS), ids=op_id)
def test_malformed_body_is_refused(world: World, operation: tuple[str, str]) -> None:
    method, path = operation
    before = world.snapshot()
    for name, body, content_type, status in MALFORMED_BODIES:
        response = send(world.client, method, world.url(path), body, content_type)
        assert response.status_code == status, (name, response.content)
        assert_error(response, status)
    assert world.snapshot() == before


BODYLESS_WRITES = [op for op in WRITE_OPERATIONS if op not in BODY_OPERATIONS]


@pytest.mark.parametrize("operation", BODYLESS_WRITES, ids=op_id)
def test_bodyless_operations_survive_a_malformed_body(
    world: World, operation: tuple[str, str]
) -> None:
    method, path = operation
    for body in (b"{bad", b"[" * 5_000, b"null", b"[]", b"\xff"):
        response = send(world.client, method, world.url(path), body)
        assert response.status_code < 500, (body[:10], response.content)


# --- Wrong types, oversized and forbidden characters -----------------------------------------

WRONG_TYPES: list[Any] = [["a", "b"], [], {"a": "b"}, {}, True, False, None]


@pytest.mark.parametrize(("operation", "field"), BODY_FIELDS, ids=str)
def test_wrong_type_is_a_field_error(world: World, operation: tuple[str, str], field: str) -> None:
    method, path = operation
    before = world.snapshot()
    right = BODY_OPERATIONS[operation][field]
    # An empty list is a right value for a list that may be empty (a post's media_ids), and
    # true and false are for a flag (a post's sensitive).
    for value in [
        v
        for v in WRONG_TYPES
        if not (isinstance(right, list) and v == [])
        and not (isinstance(right, bool) and isinstance(v, bool))
    ]:
        body = {**BODY_OPERATIONS[operation], field: value}
        response = send_json(world.client, method, world.url(path), body)
        assert response.status_code == 400, (value, response.content)
        assert field in assert_error(response, 400)["fields"], value
    assert world.snapshot() == before


@pytest.mark.parametrize(("operation", "field"), BODY_FIELDS, ids=str)
def test_number_for_a_text_field_is_never_a_500(
    world: World, operation: tuple[str, str], field: str
) -> None:
    method, path = operation
    for value in (42, -1.5, 10**30, 1e308):
        body = {**BODY_OPERATIONS[operation], field: value}
        response = send_json(world.client, method, world.url(path), body)
        # DRF reads a number as its text, which some fields accept; it must never break.
        assert response.status_code in (200, 201, 400), (value, response.content)
        if response.status_code == 400:
            assert_error(response, 400)


def _long_email(length: int) -> str:
    local = "a" * 64
    domain_tail = ".com"
    middle = length - len(local) - 1 - len(domain_tail) - 2 * 64
    return f"{local}@{'b' * 63}.{'c' * 63}.{'d' * middle}{domain_tail}"


# (operation, field, longest accepted value, shortest refused value)
SIZE_LIMITS: list[tuple[tuple[str, str], str, str, str]] = [
    (("POST", "/api/auth/register/"), "username", "n" * 30, "n" * 31),
    (("POST", "/api/auth/register/"), "email", _long_email(254), _long_email(255)),
    (("POST", "/api/auth/register/"), "password", "Pw9!" * 32, "Pw9!" * 32 + "x"),
    (("POST", "/api/auth/login/"), "username", "", "u" * 255),
    (("POST", "/api/auth/login/"), "password", "", "p" * 129),
    (("POST", "/api/auth/password/reset/"), "email", _long_email(254), _long_email(255)),
    (("POST", "/api/auth/password/reset/confirm/"), "uid", "", "u" * 65),
    (("POST", "/api/auth/password/reset/confirm/"), "token", "", "t" * 129),
    (("POST", "/api/auth/password/reset/confirm/"), "new_password", "", "p" * 129),
    (("POST", "/api/auth/password/change/"), "current_password", "", "p" * 129),
    (("POST", "/api/auth/password/change/"), "new_password", "Pw9!" * 32, "Pw9!" * 32 + "x"),
    (("POST", "/api/auth/email/verify/"), "token", "", "t" * 301),
    (("PATCH", "/api/me/"), "current_password", "", "p" * 129),
    (("DELETE", "/api/me/"), "password", "", "p" * 129),
    (("PATCH", "/api/me/"), "display_name", "d" * 50, "d" * 51),
    (("PATCH", "/api/me/"), "bio", "b" * 500, "b" * 501),
    (("PATCH", "/api/me/"), "email", _long_email(254), _long_email(255)),
    (("POST", "/api/posts/"), "title", "t" * 200, "t" * 201),
    (("POST", "/api/posts/"), "content", "c" * 5000, "c" * 5001),
    (("PUT", "/api/posts/{post_id}/"), "title", "t" * 200, "t" * 201),
    (("PUT", "/api/posts/{post_id}/"), "content", "c" * 5000, "c" * 5001),
    (("PATCH", "/api/posts/{post_id}/"), "title", "t" * 200, "t" * 201),
    (("PATCH", "/api/posts/{post_id}/"), "content", "c" * 5000, "c" * 5001),
    (("POST", "/api/posts/"), "spoiler_text", "s" * 200, "s" * 201),
    (("PUT", "/api/posts/{post_id}/"), "spoiler_text", "s" * 200, "s" * 201),
    (("PATCH", "/api/posts/{post_id}/"), "spoiler_text", "s" * 200, "s" * 201),
    (("POST", "/api/posts/{post_id}/comments/"), "content", "c" * 2000, "c" * 2001),
    (("PATCH", "/api/comments/{comment_id}/"), "content", "c" * 2000, "c" * 2001),
    (("POST", "/api/conversations/{conversation_id}/messages/"), "body", "m" * 5000, "m" * 5001),
    (("PATCH", "/api/media/{media_id}/"), "description", "d" * 1500, "d" * 1501),
    (("PATCH", "/api/media/{media_id}/"), "focus", "0,0." + "5" * 36, "0,0." + "5" * 37),
]


@pytest.mark.parametrize(
    ("operation", "field", "longest", "too_long"),
    SIZE_LIMITS,
    ids=[f"{op_id(op)} {field}" for op, field, _ok, _long in SIZE_LIMITS],
)
def test_field_size_limits(
    world: World, operation: tuple[str, str], field: str, longest: str, too_long: str
) -> None:
    method, path = operation
    url = world.url(path)
    before = world.snapshot()
    refused = send_json(world.client, method, url, {**BODY_OPERATIONS[operation], field: too_long})
    assert field in assert_error(refused, 400)["fields"]
    assert world.snapshot() == before
    if longest:
        accepted = send_json(
            world.client, method, url, {**BODY_OPERATIONS[operation], field: longest}
        )
        assert accepted.status_code in (200, 201, 202, 204), accepted.content
        # Echoed back as given (a media's focus comes back as {x, y} instead).
        if accepted.content and isinstance(accepted.json().get(field), str):
            assert accepted.json()[field] == longest


def test_size_limits_cover_every_text_field() -> None:
    limited = {(operation, field) for operation, field, _ok, _long in SIZE_LIMITS}
    assert limited == set(TEXT_FIELDS)


@pytest.mark.parametrize(("operation", "field"), TEXT_FIELDS, ids=str)
def test_nul_and_lone_surrogates_are_refused(
    world: World, operation: tuple[str, str], field: str
) -> None:
    method, path = operation
    before = world.snapshot()
    for value in ("a\x00b", "\x00", "ok\ud800", "\udfff", "\ud83d"):
        body = {**BODY_OPERATIONS[operation], field: value}
        response = send_json(world.client, method, world.url(path), body)
        assert response.status_code == 400, (value, response.content)
        assert field in assert_error(response, 400)["fields"], value
    assert world.snapshot() == before


FREE_TEXT_FIELDS = [
    (operation, field)
    for operation, field in TEXT_FIELDS
    if field not in ("email", "username", "current_password", "focus")
    # Sign-in, passwords, verification and deletion take credentials and tokens, not text.
    and not (operation[1].startswith("/api/auth/") and operation[1] != "/api/auth/register/")
    and operation != ("DELETE", "/api/me/")
]


@pytest.mark.parametrize(("operation", "field"), FREE_TEXT_FIELDS, ids=str)
def test_astral_characters_are_fine(world: World, operation: tuple[str, str], field: str) -> None:
    """A real emoji (a surrogate pair in JSON) is not a lone surrogate."""
    method, path = operation
    value = "😀 Ünïcödé ✓"
    body = {**BODY_OPERATIONS[operation], field: value}
    response = send_json(world.client, method, world.url(path), body)
    assert response.status_code in (200, 201), response.content
    if field in response.json():
        assert response.json()[field] == value


# --- Bodies past the size limit -------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(BODY_OPERATIONS), ids=op_id)
def test_body_larger_than_the_upload_limit_is_refused(
    world: World, operation: tuple[str, str]
) -> None:
    method, path = operation
    before = world.snapshot()
    padding = "z" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = {**BODY_OPERATIONS[operation], "padding": padding}
    response = send_json(world.client, method, world.url(path), body)
    assert_error(response, 413)
    assert world.snapshot() == before


@pytest.mark.parametrize("operation", WRITE_OPERATIONS, ids=op_id)
def test_oversized_body_never_breaks_any_write(world: World, operation: tuple[str, str]) -> None:
    method, path = operation
    padding = "z" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = send_json(world.client, method, world.url(path), {"padding": padding})
    assert response.status_code < 500, response.content


# --- Ids and usernames in paths -------------------------------------------------------------

BAD_IDS = [
    "99999999999999999999",  # 20 digits
    "9223372036854775808",  # 2**63: one past a signed BIGINT
    "18446744073709551616",  # 2**64
    "9223372036854775807",  # the largest id there could be, but there is none
    "0",
    "00000000000000000000001",
    "-1",
    "abc",
    "1.5",
    "1e3",
    "0x1F",
    "%20",
    "%C2%B2",  # superscript two
    "%D9%A1%D9%A2",  # Arabic-Indic digits
]


@pytest.mark.parametrize("operation", ID_OPERATIONS, ids=op_id)
def test_bad_or_missing_id_is_404_json(world: World, operation: tuple[str, str]) -> None:
    method, path = operation
    before = world.snapshot()
    for bad_id in BAD_IDS:
        url = re.sub(r"\{\w+_id\}", bad_id, path)
        response = send_json(world.client, method, url, BODY_OPERATIONS.get(operation, {}))
        assert response.status_code == 404, (bad_id, response.content)
        assert_error(response, 404)
        # Anonymous callers get a 404 too, or a 401 where the route needs a token.
        anonymous = send_json(APIClient(), method, url, {})
        assert anonymous.status_code in (401, 404), (bad_id, anonymous.content)
        assert_error(anonymous)
    assert world.snapshot() == before


BAD_USERNAMES = [
    "nobody",
    "x" * 30,
    "x" * 31,
    "bad-name",
    "dot.name",
    "%C3%A9mile",
    "%00",
    "a%2Fb",
    "%20",
]


@pytest.mark.parametrize("operation", USERNAME_OPERATIONS, ids=op_id)
def test_unknown_or_impossible_username_is_404_json(
    world: World, operation: tuple[str, str]
) -> None:
    method, path = operation
    before = world.snapshot()
    for username in BAD_USERNAMES:
        response = send_json(world.client, method, path.format(username=username), {})
        assert response.status_code == 404, (username, response.content)
        assert_error(response, 404)
    assert world.snapshot() == before


def test_unknown_author_filter_is_a_field_error(world: World) -> None:
    for author in ("nobody", "x" * 31, "bad-name", "a\x00"):
        response = world.client.get("/api/posts/", {"author": author})
        assert "author" in assert_error(response, 400)["fields"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/posts/?search=" + "s" * 101, "search"),
        ("/api/posts/?search=a%00b", "search"),
        ("/api/notifications/?unread=maybe", "unread"),
        ("/api/notifications/?unread=%00", "unread"),
    ],
)
def test_bad_query_parameters_are_field_errors(world: World, url: str, field: str) -> None:
    assert field in assert_error(world.client.get(url), 400)["fields"]


# --- Cursors and page sizes -----------------------------------------------------------------

BAD_CURSORS = [
    "garbage",
    "%C3%A9",
    b64("p=abc"),
    b64("o=0&r=0&p=-1"),
    b64("p=99999999999999999999999"),
    b64("p=9223372036854775808"),
    b64("p=1.5"),
    b64("p=" + "9" * 5_000),
    b64("o=-1"),
    b64("o=abc"),
    b64("o=1000000&p=1"),
    b64("r=abc"),
    b64(b"p=\xff\xfe"),
    b64("p=1")[:-1],  # broken padding
]


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_garbage_cursor_is_400(world: World, route: str) -> None:
    for cursor in BAD_CURSORS:
        response = world.client.get(f"{world.url(route)}?cursor={cursor}")
        assert response.status_code == 400, (cursor, response.content)
        assert "cursor" in assert_error(response, 400)["fields"]


def test_a_well_formed_hand_made_cursor_only_moves_within_the_list(world: World) -> None:
    """docs/api.md: a cursor the client built is accepted when it is well formed, and pages
    the same list from the position it names."""
    PostFactory.create_batch(3, author=world.owner)
    newest = world.client.get("/api/posts/?limit=1").json()["results"][0]
    response = world.client.get("/api/posts/", {"cursor": b64(f"p={newest['id']}")})
    assert response.status_code == 200, response.content
    ids = [int(post["id"]) for post in response.json()["results"]]
    assert len(ids) >= 3
    assert all(post_id < int(newest["id"]) for post_id in ids)
    everything = world.client.get("/api/posts/?limit=100").json()["results"]
    assert ids == [int(post["id"]) for post in everything][1 : len(ids) + 1]


HUGE_NUMBER = "9" * 5_000  # past Python's 4,300-digit int() guard


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize("parameter", ["since", "limit", "cursor"])
def test_huge_numbers_in_a_query_are_never_a_500(world: World, route: str, parameter: str) -> None:
    """Every number in a query string goes through one bounded parser: thousands of digits
    are refused (since, cursor) or read as no valid value (limit), never a traceback."""
    value = b64(f"p={HUGE_NUMBER}") if parameter == "cursor" else HUGE_NUMBER
    response = world.client.get(f"{world.url(route)}?{parameter}={value}")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert parameter in assert_error(response, 400)["fields"]


@pytest.fixture(scope="class")
def crowd(class_db: SharedRows, shared_world: World) -> World:
    """More than a hundred of every listed thing, so page-size caps show: made once for
    the class that asks for it (`class_db`), and rolled back after its last test."""
    world = shared_world
    with class_db():
        size = 105
        users = User.objects.bulk_create(
            [User(username=f"crowd{n}", email=f"crowd{n}@example.com") for n in range(size)]
        )
        followers = Follow.objects.bulk_create(
            [Follow(follower=u, followee=world.other) for u in users]
        )
        Follow.objects.bulk_create([Follow(follower=world.other, followee=u) for u in users])
        crowded_posts = Post.objects.bulk_create(
            [Post(author=world.owner, title=f"p{n}", content="c") for n in range(size)]
        )
        Bookmark.objects.bulk_create([Bookmark(user=world.owner, post=p) for p in crowded_posts])
        PostEdit.objects.bulk_create(
            [PostEdit(post=world.post, content=f"version {n}") for n in range(size)]
        )
        crowded = Tag.objects.create(name="crowded")
        PostTag.objects.bulk_create([PostTag(post=p, tag=crowded) for p in crowded_posts])
        followed_tags = Tag.objects.bulk_create([Tag(name=f"tag{n}") for n in range(size)])
        TagFollow.objects.bulk_create([TagFollow(user=world.owner, tag=t) for t in followed_tags])
        Comment.objects.bulk_create(
            [Comment(post=world.post, author=u, content="c") for u in users]
        )
        Like.objects.bulk_create([Like(post=world.post, user=u) for u in users])
        Repost.objects.bulk_create([Repost(post=world.post, user=u) for u in users])
        FollowRequest.objects.bulk_create(
            [FollowRequest(requester=u, target=world.owner) for u in users]
        )
        # Blocked and muted by the owner: accounts of their own, so that no other list of the
        # owner's (notifications, comments) loses the crowd to the filters.
        shunned = User.objects.bulk_create(
            [User(username=f"shunned{n}", email=f"shunned{n}@example.com") for n in range(size)]
        )
        Block.objects.bulk_create([Block(blocker=world.owner, blocked=u) for u in shunned])
        Mute.objects.bulk_create([Mute(muter=world.owner, muted=u) for u in shunned])
        follow_type = ContentType.objects.get_for_model(Follow)
        Notification.objects.bulk_create(
            [
                Notification(
                    recipient=world.owner,
                    actor=follow.follower,
                    kind=NotificationKind.FOLLOW,
                    target_type=follow_type,
                    target_id=follow.pk,
                )
                for follow in followers
            ]
        )
        Message.objects.bulk_create(
            [Message(conversation=world.conversation, sender=world.other, body="m") for _ in users]
        )
        # Conversations made directly, with each member's activity as message_send keeps it.
        conversations = Conversation.objects.bulk_create(
            [Conversation(participants_key=participants_key([world.owner.pk, u.pk])) for u in users]
        )
        ConversationMember.objects.bulk_create(
            [
                ConversationMember(
                    conversation=conversation, user_id=user_id, last_activity_id=conversation.pk
                )
                for conversation, u in zip(conversations, users, strict=True)
                for user_id in (world.owner.pk, u.pk)
            ]
        )
    return world


class TestPageSizeCaps:
    """Every list, filled past its largest page (`crowd`)."""

    @pytest.mark.parametrize("route", LIST_ROUTES)
    def test_page_size_is_capped_and_bad_limits_fall_back(
        self, crowd: World, world: World, route: str
    ) -> None:
        url = crowd.url(route)
        expected = {
            "": 20,
            "1": 1,
            "37": 37,
            "100": 100,
            "101": 100,
            "100000": 100,
            "99999999999999999999999": 100,
            "0": 20,
            "-5": 20,
            "abc": 20,
            "1.5": 20,
            "%00": 20,
        }
        for limit, size in expected.items():
            response = world.client.get(f"{url}?limit={limit}")
            assert response.status_code == 200, (limit, response.content)
            body = response.json()
            assert set(body) == {"next", "previous", "results"}
            assert len(body["results"]) == size, limit
            assert body["next"] is not None

        # Cursors from `next` walk the whole list without repeats, and `previous` walks it back.
        forward: list[list[str]] = []
        page = world.client.get(f"{url}?limit=30").json()
        while True:
            forward.append([json.dumps(item, sort_keys=True) for item in page["results"]])
            if page["next"] is None:
                break
            response = world.client.get(page["next"])
            assert response.status_code == 200, response.content
            page = response.json()
        seen = [item for chunk in forward for item in chunk]
        assert len(seen) == len(set(seen)) >= 101
        assert all(len(chunk) == 30 for chunk in forward[:-1])

        backward: list[list[str]] = []
        while page["previous"] is not None:
            response = world.client.get(page["previous"])
            assert response.status_code == 200, response.content
            page = response.json()
            backward.append([json.dumps(item, sort_keys=True) for item in page["results"]])
        assert backward == forward[-2::-1]


# --- Unknown URLs and wrong methods ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/",
        "/api",
        "/api/nope/",
        "/api/posts/1/nope/",
        "/api/users/a/b/c/",
        "/api/v1/accounts/verify_credentials",
        "/api/auth/",
        "/api/notifications/1/",
        "/api/%00/",
        "/api/" + "x" * 5_000 + "/",
        "/nowhere/",
    ],
)
def test_unknown_url_is_404_json(world: World, url: str) -> None:
    for method in ALL_METHODS:
        response = send(world.client, method, url, b"{}")
        assert response.status_code == 404, (method, response.content)
        assert_error(response, 404)
        assert_error(send(APIClient(), method, url, b"{}"), 404)


# The API description answers in its own formats (YAML, HTML); everything else in JSON.
NOT_JSON_ROUTES = {"/api/schema/", "/api/docs/"}


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_wrong_method_is_405_json(world: World, path: str) -> None:
    before = world.snapshot()
    for method in sorted(set(ALL_METHODS) - ROUTES[path]):
        response = send(world.client, method, world.url(path), b"{}")
        assert response.status_code == 405, (method, response.content)
        if path not in NOT_JSON_ROUTES:
            assert_error(response, 405)
        allowed = {value.strip() for value in response["Allow"].split(",")}
        assert ROUTES[path] <= allowed
        assert method not in allowed
    assert world.snapshot() == before


# --- The same through the ASGI handler (what uvicorn runs) ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/posts/", b"{bad", 400),
        ("post", "/api/posts/", b"[" * 5_000, 400),
        ("post", "/api/posts/", b'{"title": "' + b"z" * 300_000 + b'"}', 413),
        ("post", "/api/posts/", b'{"title": "\\ud800", "content": "x"}', 400),
        ("get", "/api/posts/99999999999999999999/", b"", 404),
        ("get", "/api/users/nobody/", b"", 404),
        ("get", "/api/posts/?cursor=garbage", b"", 400),
        ("get", "/api/nowhere/", b"", 404),
        ("delete", "/api/feed/", b"", 405),
    ],
)
def test_errors_are_json_through_the_asgi_handler(
    world: World, method: str, path: str, body: bytes, status: int
) -> None:
    token = token_for(world.owner)
    client = AsyncClient()
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Token {token}"}}
    if body:
        kwargs.update(data=body, content_type="application/json")
    response = async_to_sync(getattr(client, method))(path, **kwargs)
    assert_error(cast(HttpResponse, response), status)


def test_bad_token_through_the_asgi_handler(world: World) -> None:
    response = async_to_sync(AsyncClient().get)(
        "/api/me/", headers={"Authorization": "Token \xff\xfe"}
    )
    assert_error(cast(HttpResponse, response), 401)


GET_ROUTES = sorted(path for path, methods in ROUTES.items() if "GET" in methods)


@pytest.mark.parametrize("path", sorted(set(GET_ROUTES) - NOT_JSON_ROUTES))
def test_odd_query_parameters_never_break_a_read(world: World, path: str) -> None:
    url = world.url(path)
    for query in (
        "format=xml",
        "format=%00",
        "unknown=1",
        "search=%00",
        "search=" + "%FF" * 50,
        "author=%00",
        "unread=%00",
        "limit=%00",
        "limit=1&limit=2",
        "cursor=&limit=",
        "%00=%00",
        "a" * 3_000 + "=1",
    ):
        for client in (world.client, APIClient()):
            response = client.get(f"{url}?{query}")
            assert response.status_code < 500, (query, response.content)
            if response.status_code >= 400:
                assert_error(response)


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_head_and_options_never_break(world: World, path: str) -> None:
    url = world.url(path)
    for client in (world.client, APIClient()):
        options = client.options(url)
        # The HTML docs page has nothing to describe about itself: 405 there.
        assert options.status_code in (200, 401, 405), options.content
        if options.status_code == 200:
            allowed = {value.strip() for value in options["Allow"].split(",")}
            assert ROUTES[path] <= allowed
        if path not in NOT_JSON_ROUTES:
            assert options.status_code in (200, 401)
            assert options["Content-Type"].startswith("application/json")
        if "GET" in ROUTES[path]:
            head = client.head(url)
            get = client.get(url)
            assert head.status_code == get.status_code
            assert head.content == b""


@pytest.mark.django_db
def test_a_missing_trailing_slash_is_a_404_naming_the_right_path(api_client: APIClient) -> None:
    """No redirect: a redirected POST would lose its body."""
    posts_before = Post.objects.count()
    response = api_client.post("/api/posts", {"title": "t", "content": "c"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "Paths end with a slash: use /api/posts/"
    assert Post.objects.count() == posts_before
    unknown = api_client.get("/api/nothing-here")
    assert unknown.status_code == 404
    assert "slash" not in unknown.json()["message"]
