"""Direct messages through the API: starting conversations (the same people always get the
same one), sending, listing, catching up with ?since=, reading, unread counts, who may see
what, the live events the services publish, pinned query counts, and concurrent requests."""

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.http import Http404
from rest_framework import serializers
from rest_framework.test import APIClient, APIRequestFactory

from plaza.accounts.models import User
from plaza.core.events import user_group
from plaza.core.exceptions import InvalidInput
from plaza.messaging import selectors, services
from plaza.messaging.models import (
    MAX_PARTICIPANTS,
    MESSAGE_MAX_LENGTH,
    Conversation,
    ConversationMember,
    Message,
    participants_key,
)
from plaza.rest.messaging import ConversationSerializer, MessageSerializer
from tests.factories import UserFactory, token_for
from tests.helpers import PAGE, assert_flat, client_for, ids
from tests.races import THREADS, TIMEOUT
from tests.routes import LIST_QUERIES
from tests.sockets import arrange, call, connect, receive, socket

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]
CountQueries = Callable[[Callable[[], object]], int]
CONVERSATIONS = "/api/conversations/"
CONVERSATION_FIELDS = {
    "id",
    "participants",
    "last_message",
    "unread_count",
    "last_read_message_id",
    "created_at",
}
MESSAGE_FIELDS = {"id", "conversation_id", "sender", "body", "created_at"}


@pytest.fixture
def ada() -> User:
    return UserFactory.create(username="ada")


@pytest.fixture
def grace() -> User:
    return UserFactory.create(username="grace")


@pytest.fixture
def alan() -> User:
    return UserFactory.create(username="alan")


def start(client: APIClient, *usernames: str, expected: int = 201) -> dict[str, Any]:
    response = client.post(CONVERSATIONS, {"participants": list(usernames)}, format="json")
    assert response.status_code == expected, response.content
    return response.json()


def send(client: APIClient, conversation_id: str, body: str = "Hello") -> dict[str, Any]:
    response = client.post(f"{CONVERSATIONS}{conversation_id}/messages/", {"body": body})
    assert response.status_code == 201, response.content
    return response.json()


def summary(user: User) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": user.display_name,
        "avatar": None,
    }


# --- Starting a conversation ----------------------------------------------------------------


def test_start_creates_a_conversation_with_201(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    body = start(make_client(ada), "grace")
    assert set(body) == CONVERSATION_FIELDS
    assert isinstance(body["id"], str)
    assert body["participants"] == [summary(ada), summary(grace)]  # the creator first
    assert body["last_message"] is None
    assert body["unread_count"] == 0
    assert body["last_read_message_id"] is None
    conversation = Conversation.objects.get(pk=int(body["id"]))
    assert conversation.participants_key == ",".join(sorted([str(ada.pk), str(grace.pk)]))
    members = ConversationMember.objects.filter(conversation=conversation)
    assert sorted(members.values_list("user_id", flat=True)) == sorted([ada.pk, grace.pk])
    assert set(members.values_list("last_activity_id", flat=True)) == {conversation.pk}


@pytest.mark.parametrize(
    ("starter", "names"),
    [
        ("ada", ["grace"]),
        ("ada", ["GRACE"]),
        ("ada", ["grace", "Grace", "gRaCe"]),
        ("ada", ["ADA", "grace", "ada"]),
        ("grace", ["ada"]),
        ("grace", ["Ada", "grace"]),
    ],
)
def test_the_same_two_people_always_get_the_same_conversation(
    make_client: MakeClient, ada: User, grace: User, starter: str, names: list[str]
) -> None:
    first = start(make_client(ada), "grace")
    again = start(make_client({"ada": ada, "grace": grace}[starter]), *names, expected=200)
    assert again["id"] == first["id"]
    assert again["participants"] == first["participants"]
    assert Conversation.objects.count() == 1
    assert ConversationMember.objects.count() == 2


def test_a_group_is_found_whoever_starts_it_and_in_any_order(
    make_client: MakeClient, ada: User, grace: User, alan: User
) -> None:
    group = start(make_client(ada), "grace", "alan")
    assert [p["username"] for p in group["participants"]] == ["ada", "grace", "alan"]
    assert start(make_client(alan), "GRACE", "Ada", expected=200)["id"] == group["id"]
    assert start(make_client(grace), "alan", "ada", "grace", expected=200)["id"] == group["id"]
    # Other sets of people are other conversations.
    pair = start(make_client(ada), "grace")
    assert pair["id"] != group["id"]
    assert start(make_client(alan), "ada")["id"] not in (group["id"], pair["id"])
    assert Conversation.objects.count() == 3


def test_the_key_of_a_set_of_people_ignores_order_and_repeats() -> None:
    assert participants_key([30, 4, 200, 4]) == participants_key([200, 30, 4]) == "4,30,200"


def test_a_group_may_have_max_participants(make_client: MakeClient, ada: User) -> None:
    others = UserFactory.create_batch(MAX_PARTICIPANTS - 1)
    body = start(make_client(ada), *[user.username for user in others])
    assert len(body["participants"]) == MAX_PARTICIPANTS


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "invalid"),
        ({"participants": []}, "invalid"),
        ({"participants": "grace"}, "invalid"),
        ({"participants": [{"username": "grace"}]}, "invalid"),
        ({"participants": ["not a name!"]}, "invalid"),
        ({"participants": ["gr\x00ace"]}, "invalid"),
        ({"participants": ["x" * 31]}, "invalid"),
        ({"participants": ["nobody"]}, "invalid"),
        ({"participants": ["grace", "nobody"]}, "invalid"),
        ({"participants": ["sleeper"]}, "invalid"),  # deactivated
        ({"participants": ["ada"]}, "cannot_message_self"),
        ({"participants": ["ADA", "ada"]}, "cannot_message_self"),
        ({"participants": [f"user_{i}" for i in range(MAX_PARTICIPANTS)]}, "too_many_participants"),
    ],
)
def test_start_refuses_bad_participants(
    make_client: MakeClient, ada: User, grace: User, payload: dict[str, Any], code: str
) -> None:
    UserFactory.create(username="sleeper", is_active=False)
    for i in range(MAX_PARTICIPANTS):
        UserFactory.create(username=f"user_{i}")
    response = make_client(ada).post(CONVERSATIONS, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert "participants" in body["fields"]
    assert not Conversation.objects.exists()


def test_unknown_usernames_are_named(make_client: MakeClient, ada: User, grace: User) -> None:
    response = make_client(ada).post(
        CONVERSATIONS, {"participants": ["grace", "Nobody", "ghost"]}, format="json"
    )
    assert response.json() == {
        "code": "invalid",
        "message": "No user named 'ghost'.",
        "fields": {"participants": ["No user named 'ghost'.", "No user named 'Nobody'."]},
    }


def test_the_service_matches_names_as_the_username_index_does(ada: User) -> None:
    UserFactory.create(username="kim")
    # U+212A KELVIN SIGN lowers to an ASCII "k" in Python, never in the database.
    with pytest.raises(InvalidInput):
        services.conversation_get_or_create(creator=ada, usernames=["\u212aim"])
    conversation, created = services.conversation_get_or_create(creator=ada, usernames=["KIM"])
    assert created
    assert conversation.members.count() == 2


def test_too_many_is_refused_before_looking_anyone_up(
    make_client: MakeClient, ada: User, count_queries: CountQueries
) -> None:
    client = make_client(ada)
    names = [f"someone_{i}" for i in range(5000)]

    def post() -> None:
        response = client.post(CONVERSATIONS, {"participants": names}, format="json")
        assert response.json()["code"] == "too_many_participants"

    assert count_queries(post) == 1  # the token


# --- Listing --------------------------------------------------------------------------------


def test_list_is_newest_activity_first(
    make_client: MakeClient, ada: User, grace: User, alan: User
) -> None:
    client = make_client(ada)
    with_grace = start(client, "grace")
    with_alan = start(client, "alan")
    group = start(client, "grace", "alan")
    # Without messages, by when they were started.
    assert ids(client.get(CONVERSATIONS)) == [group["id"], with_alan["id"], with_grace["id"]]

    send(make_client(grace), with_grace["id"], "Back to the top")
    assert ids(client.get(CONVERSATIONS)) == [with_grace["id"], group["id"], with_alan["id"]]
    send(client, with_alan["id"])
    assert ids(client.get(CONVERSATIONS)) == [with_alan["id"], with_grace["id"], group["id"]]
    # Each participant has their own list, ordered the same way by the shared activity.
    assert ids(make_client(grace).get(CONVERSATIONS)) == [with_grace["id"], group["id"]]


def test_list_shows_the_last_message_and_the_viewers_unread_count(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    ada_client, grace_client = make_client(ada), make_client(grace)
    conversation = start(ada_client, "grace")
    for text in ("one", "two", "three"):
        last = send(grace_client, conversation["id"], text)

    item = ada_client.get(CONVERSATIONS).json()["results"][0]
    assert set(item) == CONVERSATION_FIELDS
    assert item["last_message"] == last
    assert item["unread_count"] == 3
    assert item["last_read_message_id"] is None
    # Your own messages are never unread, and sending reads up to your message.
    grace_item = grace_client.get(CONVERSATIONS).json()["results"][0]
    assert grace_item["unread_count"] == 0
    assert grace_item["last_read_message_id"] == last["id"]

    reply = send(ada_client, conversation["id"], "four")
    item = ada_client.get(CONVERSATIONS).json()["results"][0]
    assert (item["unread_count"], item["last_read_message_id"]) == (0, reply["id"])
    assert item["last_message"]["body"] == "four"
    assert grace_client.get(CONVERSATIONS).json()["results"][0]["unread_count"] == 1


def test_list_holds_only_your_conversations(
    make_client: MakeClient, ada: User, grace: User, alan: User
) -> None:
    start(make_client(ada), "grace")
    assert make_client(alan).get(CONVERSATIONS).json()["results"] == []


def test_list_pages_by_cursor(make_client: MakeClient, ada: User) -> None:
    client = make_client(ada)
    others = UserFactory.create_batch(5)
    started = [start(client, other.username)["id"] for other in others]
    page = client.get(CONVERSATIONS, {"limit": 2})
    assert ids(page) == started[::-1][:2]
    seen = ids(page)
    while page.json()["next"]:
        page = client.get(page.json()["next"])
        seen += ids(page)
    assert seen == started[::-1]


@pytest.mark.parametrize("cursor", ["garbage", "cD0tMQ==", "cD1hYmM="])  # ?, p=-1, p=abc
def test_list_with_a_bad_cursor_is_400(make_client: MakeClient, ada: User, cursor: str) -> None:
    response = make_client(ada).get(CONVERSATIONS, {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


# --- One conversation -----------------------------------------------------------------------


def test_detail_is_the_list_item(make_client: MakeClient, ada: User, grace: User) -> None:
    client = make_client(ada)
    conversation = start(client, "grace")
    send(make_client(grace), conversation["id"], "hi")
    response = client.get(f"{CONVERSATIONS}{conversation['id']}/")
    assert response.status_code == 200
    assert response.json() == client.get(CONVERSATIONS).json()["results"][0]
    assert response.json()["unread_count"] == 1


# --- Messages -------------------------------------------------------------------------------


def test_send_returns_201_with_the_message(make_client: MakeClient, ada: User, grace: User) -> None:
    conversation = start(make_client(ada), "grace")
    response = make_client(grace).post(
        f"{CONVERSATIONS}{conversation['id']}/messages/",
        {"body": "  Hello, Ada!\n", "sender": str(ada.pk), "id": "1"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_FIELDS
    assert body["conversation_id"] == conversation["id"]
    assert body["sender"] == summary(grace)  # the server-owned fields sent were ignored
    assert body["body"] == "Hello, Ada!"
    message = Message.objects.get(pk=int(body["id"]))
    assert (message.sender_id, message.body) == (grace.pk, "Hello, Ada!")
    assert Conversation.objects.get(pk=int(conversation["id"])).last_message_id == message.pk
    activity = ConversationMember.objects.values_list("last_activity_id", flat=True)
    assert set(activity) == {message.pk}


def test_send_accepts_the_maximum_length(make_client: MakeClient, ada: User, grace: User) -> None:
    conversation = start(make_client(ada), "grace")
    assert len(send(make_client(ada), conversation["id"], "x" * MESSAGE_MAX_LENGTH)["body"]) == (
        MESSAGE_MAX_LENGTH
    )


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body": ""},
        {"body": "   \n\t "},
        {"body": "x" * (MESSAGE_MAX_LENGTH + 1)},
        {"body": ["hello"]},
        {"body": None},
    ],
)
def test_send_refuses_empty_or_too_long_bodies(
    make_client: MakeClient, ada: User, grace: User, payload: dict[str, Any]
) -> None:
    conversation = start(make_client(ada), "grace")
    response = make_client(ada).post(
        f"{CONVERSATIONS}{conversation['id']}/messages/", payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "body" in response.json()["fields"]
    assert not Message.objects.exists()
    assert Conversation.objects.get().last_message_id is None


@pytest.mark.parametrize("body", ["", " \n ", "x" * (MESSAGE_MAX_LENGTH + 1)])
def test_the_service_itself_refuses_empty_or_too_long_bodies(
    ada: User, grace: User, body: str
) -> None:
    """Whatever face calls it (the REST one validates first), the rule holds."""
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])
    with pytest.raises(InvalidInput) as raised:
        services.message_send(sender=ada, conversation=conversation, body=body)
    assert raised.value.field == "body"
    assert not Message.objects.exists()


def test_the_service_refuses_a_sender_from_outside(ada: User, grace: User, alan: User) -> None:
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])
    with pytest.raises(Http404):
        services.message_send(sender=alan, conversation=conversation, body="let me in")
    with pytest.raises(Http404):
        services.conversation_mark_read(user=alan, conversation=conversation)
    assert not Message.objects.exists()


def test_messages_are_newest_first_and_paged(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    ada_client, grace_client = make_client(ada), make_client(grace)
    conversation = start(ada_client, "grace")
    url = f"{CONVERSATIONS}{conversation['id']}/messages/"
    sent = [send((ada_client, grace_client)[i % 2], conversation["id"], f"m{i}") for i in range(5)]

    response = grace_client.get(url, {"limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == sent[::-1][:3]
    assert body["next"]
    assert [m["body"] for m in grace_client.get(body["next"]).json()["results"]] == ["m1", "m0"]


def test_since_returns_what_came_after_oldest_first(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    ada_client = make_client(ada)
    conversation = start(ada_client, "grace")
    url = f"{CONVERSATIONS}{conversation['id']}/messages/"
    sent = [send(ada_client, conversation["id"], f"m{i}") for i in range(6)]
    # Another conversation's messages never leak into this one's catch-up.
    other = start(ada_client, UserFactory.create().username)
    send(ada_client, other["id"], "elsewhere")

    response = make_client(grace).get(url, {"since": sent[1]["id"], "limit": 3})
    assert response.status_code == 200
    assert response.json()["results"] == sent[2:5]
    rest = make_client(grace).get(response.json()["next"]).json()
    assert rest["results"] == sent[5:]
    assert rest["next"] is None

    assert make_client(grace).get(url, {"since": sent[-1]["id"]}).json()["results"] == []
    assert ids(make_client(grace).get(url, {"since": "0"})) == [m["id"] for m in sent]


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "9223372036854775808", "1e9"])
def test_a_since_that_is_not_an_id_is_400(
    make_client: MakeClient, ada: User, grace: User, since: str
) -> None:
    conversation = start(make_client(ada), "grace")
    response = make_client(ada).get(
        f"{CONVERSATIONS}{conversation['id']}/messages/", {"since": since}
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"since": ["Expected the id of the last item you saw."]}


def test_messages_with_a_bad_cursor_is_400(make_client: MakeClient, ada: User, grace: User) -> None:
    conversation = start(make_client(ada), "grace")
    response = make_client(ada).get(
        f"{CONVERSATIONS}{conversation['id']}/messages/", {"cursor": "garbage"}
    )
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


# --- Reading --------------------------------------------------------------------------------


def test_read_moves_the_marker_to_the_newest_message(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    ada_client, grace_client = make_client(ada), make_client(grace)
    conversation = start(ada_client, "grace")
    url = f"{CONVERSATIONS}{conversation['id']}/read/"
    send(grace_client, conversation["id"], "one")
    newest = send(grace_client, conversation["id"], "two")

    response = ada_client.post(url)
    assert response.status_code == 200
    assert response.json() == {
        "conversation_id": conversation["id"],
        "user": summary(ada),
        "last_read_message_id": newest["id"],
    }
    item = ada_client.get(CONVERSATIONS).json()["results"][0]
    assert (item["unread_count"], item["last_read_message_id"]) == (0, newest["id"])
    # Again: nothing changes.
    assert ada_client.post(url).json() == response.json()
    # Only the reader's marker moved.
    assert (
        grace_client.get(CONVERSATIONS).json()["results"][0]["last_read_message_id"]
        == (newest["id"])
    )

    later = send(grace_client, conversation["id"], "three")
    assert ada_client.get(CONVERSATIONS).json()["results"][0]["unread_count"] == 1
    assert ada_client.post(url).json()["last_read_message_id"] == later["id"]


def test_reading_a_conversation_without_messages(
    make_client: MakeClient, ada: User, grace: User
) -> None:
    conversation = start(make_client(ada), "grace")
    response = make_client(grace).post(f"{CONVERSATIONS}{conversation['id']}/read/")
    assert response.status_code == 200
    assert response.json()["last_read_message_id"] is None


def test_a_read_marker_never_moves_back(ada: User, grace: User) -> None:
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])
    old = services.message_send(sender=grace, conversation=conversation, body="old")
    stale = Conversation.objects.get(pk=conversation.pk)  # loaded before the next message
    new = services.message_send(sender=grace, conversation=conversation, body="new")
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert services.conversation_mark_read(user=ada, conversation=fresh) == new.pk
    # A read that loaded the conversation earlier arrives late: the marker stays.
    assert stale.last_message_id == old.pk
    assert services.conversation_mark_read(user=ada, conversation=stale) == new.pk
    member = ConversationMember.objects.get(conversation=conversation, user=ada)
    assert member.last_read_message_id == new.pk


# --- Who may see what -----------------------------------------------------------------------


def endpoints(conversation_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{CONVERSATIONS}{conversation_id}"
    return [
        ("get", f"{base}/", None),
        ("get", f"{base}/messages/", None),
        ("get", f"{base}/messages/?since=abc", None),
        ("post", f"{base}/messages/", {"body": "let me in"}),
        ("post", f"{base}/messages/", {"body": ""}),
        ("post", f"{base}/read/", None),
    ]


@pytest.mark.parametrize("index", range(6))
def test_outsiders_get_404_on_every_conversation_endpoint(
    make_client: MakeClient, ada: User, grace: User, alan: User, index: int
) -> None:
    conversation = start(make_client(ada), "grace")
    message = send(make_client(grace), conversation["id"], "private")
    method, path, body = endpoints(conversation["id"])[index]
    missing_method, missing_path, _body = endpoints("123456789")[index]

    response = getattr(make_client(alan), method)(path, body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    # Exactly as for a conversation that does not exist: nothing tells the two apart.
    missing = getattr(make_client(alan), missing_method)(missing_path, body, format="json")
    assert missing.json() == response.json()
    assert list(Message.objects.values_list("pk", flat=True)) == [int(message["id"])]
    assert ConversationMember.objects.get(user=ada).last_read_message_id is None


def test_members_get_404_for_a_conversation_that_does_not_exist(
    make_client: MakeClient, ada: User
) -> None:
    for method, path, body in endpoints("123456789"):
        response = getattr(make_client(ada), method)(path, body, format="json")
        assert response.status_code == 404, (method, path)


@pytest.mark.parametrize("index", range(6))
def test_anonymous_gets_401_on_every_conversation_endpoint(
    api_client: APIClient, make_client: MakeClient, ada: User, grace: User, index: int
) -> None:
    conversation = start(make_client(ada), "grace")
    method, path, body = endpoints(conversation["id"])[index]
    response = getattr(api_client, method)(path, body, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not Message.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_gets_401_on_the_conversation_list(
    api_client: APIClient, grace: User, method: str
) -> None:
    response = getattr(api_client, method)(
        CONVERSATIONS, {"participants": ["grace"]}, format="json"
    )
    assert response.status_code == 401
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("conversation_id", ["abc", "-1", "9223372036854775808"])
def test_impossible_ids_are_404(make_client: MakeClient, ada: User, conversation_id: str) -> None:
    assert make_client(ada).get(f"{CONVERSATIONS}{conversation_id}/").status_code == 404


# --- Live events ----------------------------------------------------------------------------


@pytest.fixture
def channel_layer(settings: Any) -> BaseChannelLayer:
    """A fresh in-memory channel layer (also when REDIS_URL names a real one), so that a test
    reads exactly what the services published."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    assert layer is not None
    return layer


class Inbox:
    """What one user's open WebSockets would receive: a channel in their group."""

    def __init__(self, layer: BaseChannelLayer, user: User) -> None:
        self.layer = layer
        self.channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(user.pk), self.channel)

    def events(self) -> list[dict[str, Any]]:
        """The events received since last asked, decoded."""

        async def drain() -> list[dict[str, Any]]:
            received: list[dict[str, Any]] = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), 0.05)
                except TimeoutError:
                    return received
                received.append(json.loads(message["text"]))

        return async_to_sync(drain)()


def test_a_message_is_announced_to_everyone_but_its_sender(
    make_client: MakeClient,
    ada: User,
    grace: User,
    alan: User,
    channel_layer: BaseChannelLayer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    outsider = UserFactory.create()
    inboxes = {user.username: Inbox(channel_layer, user) for user in (ada, grace, alan, outsider)}
    with django_capture_on_commit_callbacks(execute=True):
        conversation = start(make_client(ada), "grace", "alan")
    assert all(inbox.events() == [] for inbox in inboxes.values())  # starting says nothing

    with django_capture_on_commit_callbacks(execute=True):
        message = send(make_client(grace), conversation["id"], "Hello, both")

    expected = {"type": "message.created", "id": message["id"], "data": message}
    assert inboxes["ada"].events() == [expected]
    assert inboxes["alan"].events() == [expected]
    assert inboxes["grace"].events() == []
    assert inboxes[outsider.username].events() == []


def test_reading_is_announced_to_every_participant_when_the_marker_moves(
    make_client: MakeClient,
    ada: User,
    grace: User,
    alan: User,
    channel_layer: BaseChannelLayer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = start(make_client(ada), "grace")
    send(make_client(grace), conversation["id"], "Read me")
    inboxes = {user.username: Inbox(channel_layer, user) for user in (ada, grace, alan)}
    url = f"{CONVERSATIONS}{conversation['id']}/read/"

    with django_capture_on_commit_callbacks(execute=True):
        read = make_client(ada).post(url).json()

    expected = {"type": "conversation.read", "id": None, "data": read}
    # The reader too: their other devices clear the conversation's unread count.
    assert inboxes["ada"].events() == [expected]
    assert inboxes["grace"].events() == [expected]
    assert inboxes["alan"].events() == []

    with django_capture_on_commit_callbacks(execute=True):
        assert make_client(ada).post(url).status_code == 200
    assert inboxes["ada"].events() == inboxes["grace"].events() == []  # nothing moved


def test_nothing_is_announced_when_the_message_is_rolled_back(
    ada: User,
    grace: User,
    channel_layer: BaseChannelLayer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    inbox = Inbox(channel_layer, grace)
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])

    class Abort(Exception):
        pass

    def send_then_fail() -> None:
        with transaction.atomic():
            services.message_send(sender=ada, conversation=conversation, body="never mind")
            raise Abort

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort):
        send_then_fail()
    assert callbacks == []
    assert inbox.events() == []
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_message_and_its_reading_reach_open_websockets() -> None:
    """End to end, through /ws/ as a client holds it: what the channel-layer tests above
    check, delivered by the real consumer."""
    ada, grace = await arrange(
        lambda: (UserFactory.create(username="ada"), UserFactory.create(username="grace"))
    )
    ada_client, grace_client = await arrange(lambda: (client_for(ada), client_for(grace)))
    conversation = (
        await sync_to_async(call)(ada_client, "post", CONVERSATIONS, {"participants": ["grace"]})
    ).json()
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    grace_socket = socket(token=await arrange(lambda: token_for(grace)))
    await connect(ada_socket)
    await connect(grace_socket)

    path = f"{CONVERSATIONS}{conversation['id']}/messages/"
    message = (await sync_to_async(call)(ada_client, "post", path, {"body": "Live?"})).json()

    assert await receive(grace_socket) == {
        "type": "message.created",
        "id": message["id"],
        "data": message,
    }
    assert await ada_socket.receive_nothing(timeout=0.2)  # never the sender

    read_path = f"{CONVERSATIONS}{conversation['id']}/read/"
    read = (await sync_to_async(call)(grace_client, "post", read_path)).json()
    expected = {"type": "conversation.read", "id": None, "data": read}
    assert await receive(ada_socket) == expected
    assert await receive(grace_socket) == expected
    await ada_socket.disconnect()
    await grace_socket.disconnect()


# --- Representations ------------------------------------------------------------------------


def test_hand_built_representations_match_drf(ada: User, grace: User, alan: User) -> None:
    """As tests/test_representations.py does for posts: the dicts built by hand equal DRF's
    rendering of the declared fields, which the OpenAPI schema describes."""
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])
    services.message_send(sender=grace, conversation=conversation, body="Ünïcödé\nbody")
    services.message_send(sender=ada, conversation=conversation, body="Reply")
    services.message_send(sender=grace, conversation=conversation, body="Last")
    context = {"request": APIRequestFactory().get("/api/conversations/", HTTP_HOST="localhost")}

    message = Message.objects.select_related("sender").order_by("id").first()
    message_serializer = MessageSerializer(context=context)
    assert message is not None
    assert message_serializer.to_representation(message) == (
        serializers.ModelSerializer.to_representation(message_serializer, message)
    )

    for viewer, unread in ((ada, 1), (grace, 0)):
        item = selectors.conversation_summary(viewer, conversation.pk)
        conversation_serializer = ConversationSerializer(context=context)
        fast = conversation_serializer.to_representation(item)
        assert fast == serializers.Serializer.to_representation(conversation_serializer, item)
        assert fast["unread_count"] == unread
    empty, _created = services.conversation_get_or_create(creator=ada, usernames=["ada", "alan"])
    item = selectors.conversation_summary(ada, empty.pk)
    conversation_serializer = ConversationSerializer(context=context)
    fast = conversation_serializer.to_representation(item)
    assert fast == serializers.Serializer.to_representation(conversation_serializer, item)
    assert (fast["last_message"], fast["last_read_message_id"]) == (None, None)


# --- Query counts ---------------------------------------------------------------------------


def busy_conversation(viewer: User) -> Conversation:
    """A new group conversation of the viewer's with messages from others and from the viewer,
    partly read: every field of its rendering has something to load."""
    others = UserFactory.create_batch(2)
    conversation, _created = services.conversation_get_or_create(
        creator=others[0], usernames=[viewer.username, others[1].username]
    )
    services.message_send(sender=others[0], conversation=conversation, body="one")
    services.message_send(sender=viewer, conversation=conversation, body="two")
    services.message_send(sender=others[1], conversation=conversation, body="three")
    return conversation


def test_conversation_list_queries(
    make_client: MakeClient, ada: User, count_queries: CountQueries
) -> None:
    busy_conversation(ada)

    def grow() -> None:
        for _ in range(PAGE + 2):
            busy_conversation(ada)
        services.conversation_get_or_create(creator=ada, usernames=[UserFactory.create().username])

    assert make_client(ada).get(CONVERSATIONS).json()["results"][0]["unread_count"] == 1
    assert assert_flat(make_client(ada), CONVERSATIONS, grow) == LIST_QUERIES["/api/conversations/"]


def test_conversation_detail_queries(
    make_client: MakeClient, ada: User, count_queries: CountQueries
) -> None:
    conversation = busy_conversation(ada)
    client = make_client(ada)
    url = f"{CONVERSATIONS}{conversation.pk}/"
    assert client.get(url).json()["unread_count"] == 1
    # token, the conversation as the viewer sees it, its participants
    assert count_queries(lambda: client.get(url)) == 3


@pytest.mark.parametrize("since", [False, True])
def test_messages_queries(
    make_client: MakeClient, ada: User, grace: User, count_queries: CountQueries, since: bool
) -> None:
    conversation, _created = services.conversation_get_or_create(creator=ada, usernames=["grace"])
    first = services.message_send(sender=grace, conversation=conversation, body="first")
    url = f"{CONVERSATIONS}{conversation.pk}/messages/"
    if since:  # the one message after `since`
        services.message_send(sender=ada, conversation=conversation, body="second")
        url += f"?since={first.pk}"

    def grow() -> None:
        for i in range(PAGE + 2):
            services.message_send(sender=(ada, grace)[i % 2], conversation=conversation, body="x")

    pinned = LIST_QUERIES["/api/conversations/{conversation_id}/messages/"]
    assert assert_flat(make_client(ada), url, grow) == pinned


# --- Concurrency ----------------------------------------------------------------------------


def run_at_once(actions: list[Callable[[], int]]) -> list[int]:
    """Run each action (a request returning its status) in its own thread with its own
    database connection, all released at once, as tests/test_concurrency.py does. An
    exception in a thread, or one still running after TIMEOUT, fails the test."""
    barrier = threading.Barrier(len(actions))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(action: Callable[[], int]) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            statuses.append(action())
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "deadlock?"
    if errors:
        raise errors[0]
    return statuses


def post_status(client: APIClient, path: str, body: dict[str, Any]) -> Callable[[], int]:
    return lambda: client.post(path, body, format="json").status_code


@pytest.mark.django_db(transaction=True)
def test_many_starting_the_same_conversation_at_once_make_one() -> None:
    ada, grace, alan = (UserFactory.create(username=name) for name in ("ada", "grace", "alan"))
    # Each of the three starts it, naming the others in every order and case.
    namings = {
        ada: [["grace", "alan"], ["ALAN", "Grace"], ["alan", "grace", "ada"]],
        grace: [["ada", "alan"], ["Alan", "ADA", "alan"]],
        alan: [["grace", "ada"], ["ada", "GRACE"]],
    }
    actions = []
    for index in range(THREADS):
        starter = (ada, grace, alan)[index % 3]
        names = namings[starter][index % len(namings[starter])]
        actions.append(post_status(client_for(starter), CONVERSATIONS, {"participants": names}))

    statuses = run_at_once(actions)

    assert len(statuses) == THREADS
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 1, statuses
    conversation = Conversation.objects.get()
    members = ConversationMember.objects.filter(conversation=conversation)
    assert sorted(members.values_list("user_id", flat=True)) == sorted([ada.pk, grace.pk, alan.pk])


@pytest.mark.django_db(transaction=True)
def test_many_messages_at_once_keep_the_newest_as_last_activity() -> None:
    """Concurrent sends to one conversation, by all its members: every one is stored, and
    the conversation's last message and everyone's activity end at the newest of them."""
    people = UserFactory.create_batch(3)
    conversation, _created = services.conversation_get_or_create(
        creator=people[0], usernames=[person.username for person in people[1:]]
    )
    path = f"{CONVERSATIONS}{conversation.pk}/messages/"
    clients = [client_for(person) for person in people]
    statuses = run_at_once(
        [post_status(clients[i % 3], path, {"body": f"message {i}"}) for i in range(THREADS)]
    )

    assert statuses == [201] * THREADS
    newest = Message.objects.filter(conversation=conversation).order_by("-id").first()
    assert newest is not None
    assert Message.objects.filter(conversation=conversation).count() == THREADS
    conversation.refresh_from_db()
    assert conversation.last_message_id == newest.pk
    members = ConversationMember.objects.filter(conversation=conversation)
    assert set(members.values_list("last_activity_id", flat=True)) == {newest.pk}
    for member in members:
        own = Message.objects.filter(conversation=conversation, sender_id=member.user_id)
        assert member.last_read_message_id == own.order_by("-id").values_list("pk", flat=True)[0]
