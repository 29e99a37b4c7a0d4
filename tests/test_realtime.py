"""The WebSocket face (/ws/): authentication, live events, revocation, caps, catch-up.

Consumers run in-process through Channels' WebsocketCommunicator against the real ASGI
application and the in-memory channel layer of the embedded default; the writes that cause
events go through the REST API, as a second client would send them.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken
from plaza.core.channel_layers import LocalChannelLayer
from plaza.core.events import Event, publish_if_online
from plaza.graph.services import follow_create
from plaza.realtime import consumers
from plaza.realtime.consumers import (
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHENTICATED,
    EventsConsumer,
)
from tests.factories import GIF, PostFactory, UserFactory, token_for
from tests.helpers import client_for
from tests.sockets import TIMEOUT, arrange, call, closed_with, connect, receive, socket

# Consumers reach the database from other threads: each test commits for real.
pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_token_header_opens_a_session() -> None:
    ada = await arrange(lambda: UserFactory.create(username="ada"))
    token = await arrange(lambda: token_for(ada))
    communicator = socket(token=token)

    ready = await connect(communicator)

    assert ready["type"] == "session.ready"
    assert ready["data"]["user"]["username"] == "ada"
    assert ready["data"]["unread_notifications"] == 0
    await communicator.send_to(text_data='{"type": "ping"}')
    assert (await receive(communicator))["type"] == "pong"
    await communicator.disconnect()


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"token": "plz_not-a-real-token"},
        {"query": "?ticket=forged"},
        {"query": "?token=plz_tokens-never-go-in-urls"},
    ],
)
async def test_no_or_bad_credentials_are_closed_with_4401(credentials: dict[str, str]) -> None:
    assert await closed_with(socket(**credentials)) == CLOSE_UNAUTHENTICATED


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
async def test_the_header_is_read_as_the_rest_api_reads_it(scheme: str) -> None:
    ada = await arrange(lambda: UserFactory.create(username="ada"))
    token = await arrange(lambda: token_for(ada))
    communicator = socket(authorization=f"{scheme} {token}")
    ready = await connect(communicator)
    assert ready["data"]["user"]["username"] == "ada"
    await communicator.disconnect()


@pytest.mark.parametrize("header", ["Basic YWRhOnNlY3JldA==", "RAW"])
async def test_another_scheme_closes_with_the_rest_apis_reason(header: str) -> None:
    ada = await arrange(UserFactory.create)
    token = await arrange(lambda: token_for(ada))
    communicator = socket(authorization=header.replace("RAW", token))
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    assert output["code"] == CLOSE_UNAUTHENTICATED
    assert output["reason"].startswith("Unknown authorization scheme: use `Authorization: Bearer")


async def test_a_ticket_opens_one_session_only() -> None:
    ada = await arrange(UserFactory.create)
    client = await arrange(lambda: client_for(ada))
    ticket = (await sync_to_async(call)(client, "post", "/api/realtime/ticket/")).json()

    assert ticket["expires_in"] == 30
    first = socket(query=f"?ticket={ticket['ticket']}")
    assert (await connect(first))["type"] == "session.ready"
    assert await closed_with(socket(query=f"?ticket={ticket['ticket']}")) == (CLOSE_UNAUTHENTICATED)
    await first.disconnect()


async def test_a_ticket_of_a_revoked_token_does_not_open_a_session() -> None:
    ada = await arrange(UserFactory.create)
    client = await arrange(lambda: client_for(ada))
    ticket = (await sync_to_async(call)(client, "post", "/api/realtime/ticket/")).json()
    await sync_to_async(call)(client, "post", "/api/auth/logout/")

    assert await closed_with(socket(query=f"?ticket={ticket['ticket']}")) == (CLOSE_UNAUTHENTICATED)


async def test_an_expired_ticket_does_not_open_a_session() -> None:
    ada = await arrange(UserFactory.create)
    client = await arrange(lambda: client_for(ada))
    ticket = (await sync_to_async(call)(client, "post", "/api/realtime/ticket/")).json()

    with override_settings(REALTIME_TICKET_TTL_SECONDS=-1):
        code = await closed_with(socket(query=f"?ticket={ticket['ticket']}"))
    assert code == CLOSE_UNAUTHENTICATED


async def test_anonymous_users_get_no_ticket() -> None:
    response = await sync_to_async(APIClient().post)("/api/realtime/ticket/")
    assert response.status_code == 401


async def test_logging_out_closes_the_sessions_of_that_token_only() -> None:
    ada = await arrange(UserFactory.create)
    phone_token, laptop_token = await arrange(lambda: (token_for(ada), token_for(ada)))
    phone, laptop = socket(token=phone_token), socket(token=laptop_token)
    await connect(phone)
    await connect(laptop)
    phone_client = APIClient()
    phone_client.credentials(HTTP_AUTHORIZATION=f"Token {phone_token}")

    await sync_to_async(call)(phone_client, "post", "/api/auth/logout/")

    output = await phone.receive_output(timeout=TIMEOUT)
    assert output == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
        "reason": ("Token revoked."),
    }
    await laptop.send_to(text_data='{"type": "ping"}')
    assert (await receive(laptop))["type"] == "pong"
    await laptop.disconnect()


async def test_a_like_reaches_the_authors_open_sessions_as_it_commits() -> None:
    ada, grace = await arrange(lambda: (UserFactory.create(username="ada"), UserFactory.create()))
    post = await arrange(lambda: PostFactory.create(author=ada))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    await connect(ada_socket)
    grace_client = await arrange(lambda: client_for(grace))

    await sync_to_async(call)(grace_client, "post", f"/api/posts/{post.pk}/like/")

    created = await receive(ada_socket)
    assert created["type"] == "notification.created"
    assert created["data"]["type"] == "like"
    assert created["data"]["actor"]["username"] == grace.username
    assert created["data"]["target"]["id"] == str(post.pk)
    assert created["id"] == created["data"]["id"]
    # The same notification as the REST list shows it.
    ada_client = await arrange(lambda: client_for(ada))
    listed = (await sync_to_async(call)(ada_client, "get", "/api/notifications/")).json()
    assert listed["results"][0] == created["data"]
    assert await receive(ada_socket) == {
        "type": "notifications.unread_count",
        "id": None,
        "data": {"count": 1},
    }
    await ada_socket.disconnect()


async def test_follow_and_comment_reach_the_recipient_and_never_the_actor() -> None:
    ada, grace = await arrange(lambda: (UserFactory.create(username="ada"), UserFactory.create()))
    post = await arrange(lambda: PostFactory.create(author=ada))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    grace_socket = socket(token=await arrange(lambda: token_for(grace)))
    await connect(ada_socket)
    await connect(grace_socket)
    grace_client = await arrange(lambda: client_for(grace))

    await sync_to_async(call)(grace_client, "post", "/api/users/ada/follow/")
    await sync_to_async(call)(
        grace_client, "post", f"/api/posts/{post.pk}/comments/", {"content": "Nice"}
    )

    kinds = []
    for _ in range(4):
        event = await receive(ada_socket)
        if event["type"] == "notification.created":
            kinds.append(event["data"]["type"])
    assert kinds == ["follow", "comment"]
    assert await grace_socket.receive_nothing(timeout=0.2)
    await ada_socket.disconnect()
    await grace_socket.disconnect()


async def test_a_new_post_reaches_connected_followers_only() -> None:
    ada, follower, stranger = await arrange(
        lambda: (UserFactory.create(username="ada"), UserFactory.create(), UserFactory.create())
    )
    ada_client, follower_client = await arrange(lambda: (client_for(ada), client_for(follower)))
    await sync_to_async(call)(follower_client, "post", "/api/users/ada/follow/")
    follower_socket = socket(token=await arrange(lambda: token_for(follower)))
    stranger_socket = socket(token=await arrange(lambda: token_for(stranger)))
    await connect(follower_socket)
    await connect(stranger_socket)

    created = (
        await sync_to_async(call)(
            ada_client, "post", "/api/posts/", {"title": "Live", "content": "Hello"}
        )
    ).json()

    event = await receive(follower_socket)
    assert event == {"type": "feed.post", "id": created["id"], "data": created}
    assert await stranger_socket.receive_nothing(timeout=0.2)
    await follower_socket.disconnect()
    await stranger_socket.disconnect()


async def test_a_tagged_post_reaches_connected_followers_of_the_tag() -> None:
    ada, birder, muter = await arrange(
        lambda: (UserFactory.create(username="ada"), UserFactory.create(), UserFactory.create())
    )
    ada_client, birder_client, muter_client = await arrange(
        lambda: (client_for(ada), client_for(birder), client_for(muter))
    )
    for client in (birder_client, muter_client):
        await sync_to_async(call)(client, "post", "/api/tags/birds/follow/")
    await sync_to_async(call)(muter_client, "post", "/api/users/ada/mute/")
    birder_socket = socket(token=await arrange(lambda: token_for(birder)))
    muter_socket = socket(token=await arrange(lambda: token_for(muter)))
    await connect(birder_socket)
    await connect(muter_socket)

    created = (
        await sync_to_async(call)(ada_client, "post", "/api/posts/", {"content": "A wren #Birds"})
    ).json()

    assert await receive(birder_socket) == {
        "type": "feed.post",
        "id": created["id"],
        "data": created,
    }
    assert await muter_socket.receive_nothing(timeout=0.2)  # their feed does not show it
    await birder_socket.disconnect()
    await muter_socket.disconnect()


async def test_a_direct_post_goes_live_to_its_author_alone() -> None:
    """Followers online are not sent it (their feed does not have it either); those it
    names are told by their mention notification."""
    ada, bob, cy = await arrange(
        lambda: (
            UserFactory.create(username="ada"),
            UserFactory.create(),
            UserFactory.create(username="cy"),
        )
    )
    await arrange(lambda: follow_create(follower=bob, followee=ada))
    tokens = await arrange(lambda: [token_for(user) for user in (ada, bob, cy)])
    sockets = [socket(token=token) for token in tokens]
    for each in sockets:
        await connect(each)
    ada_socket, bob_socket, cy_socket = sockets
    ada_client = await arrange(lambda: client_for(ada))

    created = (
        await sync_to_async(call)(
            ada_client, "post", "/api/posts/", {"content": "@cy a secret", "visibility": "direct"}
        )
    ).json()

    assert await receive(ada_socket) == {"type": "feed.post", "id": created["id"], "data": created}
    mention = await receive(cy_socket)
    assert (mention["type"], mention["data"]["type"]) == ("notification.created", "mention")
    assert (mention["data"]["target"]["type"], mention["data"]["target"]["id"]) == (
        "post",
        created["id"],
    )
    assert await bob_socket.receive_nothing(timeout=0.2)
    for each in sockets:
        await each.disconnect()


async def test_a_rolled_back_write_sends_nothing() -> None:
    ada, grace = await arrange(lambda: (UserFactory.create(username="ada"), UserFactory.create()))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    await connect(ada_socket)

    @sync_to_async
    def follow_then_fail() -> None:
        from django.db import transaction

        from plaza.graph.services import follow_create

        with transaction.atomic():
            follow_create(follower=grace, followee=ada)
            transaction.set_rollback(True)  # the request failed after the follow

    await follow_then_fail()
    assert await ada_socket.receive_nothing(timeout=0.3)
    await ada_socket.disconnect()


async def test_an_event_that_cannot_be_rendered_after_commit_is_skipped_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database can go away between a commit and the rendering of its live event: the
    write stands, the commit does not raise, that event is skipped with a warning, and the
    events after it still leave."""
    ada = await arrange(lambda: UserFactory.create(username="ada"))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    await connect(ada_socket)

    def render_without_a_database() -> list[Event]:
        raise DatabaseError("the database went away")

    @sync_to_async
    def commit_two_events() -> None:
        with transaction.atomic():
            publish_if_online(ada.pk, render_without_a_database)
            publish_if_online(ada.pk, lambda: [Event("test.after", {"n": 2}, id="7")])

    with caplog.at_level(logging.WARNING, logger="plaza.core.events"):
        await commit_two_events()
    assert await receive(ada_socket) == {"type": "test.after", "data": {"n": 2}, "id": "7"}
    assert await ada_socket.receive_nothing(timeout=0.3)
    assert "Could not render a live event" in caplog.text
    await ada_socket.disconnect()


@override_settings(REALTIME_MAX_CONNECTIONS_PER_USER=2)
async def test_one_connection_over_the_cap_is_refused_with_4429() -> None:
    ada = await arrange(UserFactory.create)
    token = await arrange(lambda: token_for(ada))
    first, second = socket(token=token), socket(token=token)
    await connect(first)
    await connect(second)

    assert await closed_with(socket(token=token)) == CLOSE_TOO_MANY_CONNECTIONS
    await first.disconnect()
    # A closed connection frees its place.
    third = socket(token=token)
    assert (await connect(third))["type"] == "session.ready"
    await second.disconnect()
    await third.disconnect()


async def test_a_reconnecting_client_catches_up_with_since() -> None:
    ada, grace = await arrange(lambda: (UserFactory.create(username="ada"), UserFactory.create()))
    posts = await arrange(lambda: [PostFactory.create(author=ada) for _ in range(3)])
    grace_client, ada_client = await arrange(lambda: (client_for(grace), client_for(ada)))
    await sync_to_async(call)(grace_client, "post", f"/api/posts/{posts[0].pk}/like/")
    seen = (await sync_to_async(call)(ada_client, "get", "/api/notifications/")).json()
    last_seen = seen["results"][0]["id"]
    # While ada is away: two more likes.
    await sync_to_async(call)(grace_client, "post", f"/api/posts/{posts[1].pk}/like/")
    await sync_to_async(call)(grace_client, "post", f"/api/posts/{posts[2].pk}/like/")

    missed = (
        await sync_to_async(call)(
            ada_client, "get", f"/api/notifications/?since={last_seen}&limit=1"
        )
    ).json()
    assert [item["target"]["id"] for item in missed["results"]] == [str(posts[1].pk)]
    assert missed["previous"] is None
    rest = (await sync_to_async(call)(ada_client, "get", missed["next"])).json()
    assert [item["target"]["id"] for item in rest["results"]] == [str(posts[2].pk)]
    assert rest["next"] is None


def test_the_feed_catches_up_oldest_first_too() -> None:
    ada, grace = UserFactory.create(username="ada"), UserFactory.create()
    client = client_for(grace)
    call(client, "post", "/api/users/ada/follow/")
    posts = [PostFactory.create(author=ada) for _ in range(4)]

    page = call(client, "get", f"/api/feed/?since={posts[0].pk}&limit=2").json()

    assert [item["id"] for item in page["results"]] == [str(posts[1].pk), str(posts[2].pk)]
    rest = call(client, "get", page["next"]).json()
    assert [item["id"] for item in rest["results"]] == [str(posts[3].pk)]


@pytest.mark.parametrize("since", ["abc", "-1", "99999999999999999999999", "", " 1", "1_000", "+1"])
def test_a_bad_since_is_a_400(since: str) -> None:
    client = client_for(UserFactory.create())
    for path in ("/api/notifications/", "/api/feed/"):
        response = client.get(path, {"since": since})
        assert response.status_code == 400, (path, since)
        assert response.json()["fields"] == {"since": ["Expected the id of the last item you saw."]}


@override_settings(REALTIME_HEARTBEAT_SECONDS=0.2)
async def test_the_heartbeat_pings_and_closes_a_session_whose_token_vanished() -> None:
    ada = await arrange(UserFactory.create)
    token = await arrange(lambda: token_for(ada))
    communicator = socket(token=token)
    await connect(communicator)

    assert (await receive(communicator))["type"] == "ping"
    # Deleted behind the services' back, so no close event is sent: the heartbeat notices.
    await arrange(lambda: AuthToken.objects.filter(user=ada).delete())

    output = await communicator.receive_output(timeout=TIMEOUT)
    while output.get("type") == "websocket.send":
        output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    assert output["code"] == CLOSE_UNAUTHENTICATED


async def test_the_author_sees_their_own_new_post_live() -> None:
    ada = await arrange(lambda: UserFactory.create(username="ada"))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    await connect(ada_socket)
    client = await arrange(lambda: client_for(ada))

    created = (
        await sync_to_async(call)(client, "post", "/api/posts/", {"title": "Mine", "content": "x"})
    ).json()

    assert await receive(ada_socket) == {"type": "feed.post", "id": created["id"], "data": created}
    await ada_socket.disconnect()


async def test_a_client_that_stops_reading_is_closed_with_4408_and_stalls_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada, slow, fast = await arrange(lambda: UserFactory.create_batch(3))
    await arrange(lambda: [follow_create(follower=f, followee=ada) for f in (slow, fast)])
    slow_socket = socket(token=await arrange(lambda: token_for(slow)))
    fast_socket = socket(token=await arrange(lambda: token_for(fast)))
    await connect(slow_socket)
    await connect(fast_socket)
    # A client that stops reading makes the server's sends wait for buffer space that
    # never frees: from here on, every send to `slow` waits forever.
    send = EventsConsumer.send

    async def send_unless_stalled(self: EventsConsumer, *args: Any, **kwargs: Any) -> None:
        if self.user is not None and self.user.pk == slow.pk:
            await asyncio.Event().wait()
        await send(self, *args, **kwargs)

    monkeypatch.setattr(EventsConsumer, "send", send_unless_stalled)
    monkeypatch.setattr(consumers, "SEND_TIMEOUT_SECONDS", 0.3)
    client = await arrange(lambda: client_for(ada))

    created = (
        await sync_to_async(call)(client, "post", "/api/posts/", {"title": "Hi", "content": "x"})
    ).json()

    assert (await receive(fast_socket))["id"] == created["id"]
    output = await slow_socket.receive_output(timeout=TIMEOUT)
    assert output == {"type": "websocket.close", "code": CLOSE_TOO_SLOW, "reason": ANY}
    await fast_socket.disconnect()


@override_settings(PUBLIC_URL="http://testserver")  # the host the test client calls
async def test_an_avatar_in_an_event_is_the_absolute_url_rest_gives(
    settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    ada, grace = await arrange(lambda: UserFactory.create_batch(2))
    await arrange(
        lambda: grace.avatar.save("face.gif", SimpleUploadedFile("face.gif", GIF), save=True)
    )
    post = await arrange(lambda: PostFactory.create(author=ada))
    ada_socket = socket(token=await arrange(lambda: token_for(ada)))
    await connect(ada_socket)

    await sync_to_async(call)(
        await arrange(lambda: client_for(grace)), "post", f"/api/posts/{post.pk}/like/"
    )

    created = await receive(ada_socket)
    assert created["data"]["actor"]["avatar"].startswith("http://testserver/media/")
    listed = await sync_to_async(call)(
        await arrange(lambda: client_for(ada)), "get", "/api/notifications/"
    )
    assert listed.json()["results"][0] == created["data"]
    await ada_socket.disconnect()


async def test_the_embedded_layer_keeps_a_connection_in_its_groups_past_a_day() -> None:
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)
    # Joined two days ago: Channels' own in-memory layer would have dropped it after one.
    layer.groups["user.1"][channel] = time.time() - 2 * 86400

    await layer.group_send("user.1", {"type": "event.send", "text": "{}"})

    assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == {
        "type": "event.send",
        "text": "{}",
    }


async def test_the_embedded_layer_sweeps_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sweeps: list[float] = []
    monkeypatch.setattr(
        InMemoryChannelLayer, "_clean_expired", lambda self: sweeps.append(time.monotonic())
    )
    layer = LocalChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)

    for _ in range(50):
        await layer.group_send("user.1", {"type": "event.send", "text": "{}"})
        await layer.receive(channel)

    assert len(sweeps) == 1  # one sweep, not one per send and one per receive


@pytest.mark.django_db
def test_a_post_costs_no_query_for_live_events_when_nobody_is_connected(
    count_queries: Callable[[Callable[[], object]], int],
) -> None:
    """The live `feed.post` task looks at who is online first: with nobody connected (a
    small server at night, every test) it loads nothing, and POST /api/posts/ pays nothing
    for it in the embedded mode, where the task runs inside the request."""
    from plaza.feed.tasks import publish_post_to_followers

    post = PostFactory.create()
    assert count_queries(lambda: publish_post_to_followers(post.pk)) == 0


async def test_a_channel_layer_that_cannot_make_the_sockets_channel_says_try_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable before the handshake (the socket's own channel cannot be made, as
    just after a Redis restart): the client is told to try again later (1013), never
    answered an HTTP 500."""
    user = await arrange(UserFactory.create)
    token = await arrange(lambda: token_for(user))

    async def unreachable(self: object, prefix: str = "specific.") -> str:
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(LocalChannelLayer, "new_channel", unreachable)
    with caplog.at_level(logging.WARNING, logger="plaza.realtime.consumers"):
        assert await closed_with(socket(token=token)) == CLOSE_TRY_AGAIN_LATER
    assert "Real-time layer unavailable" in caplog.text
