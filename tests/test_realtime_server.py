"""End to end on the embedded default, as a newcomer runs it with `make run`: one uvicorn
process on a fresh SQLite database, the in-memory channel layer, no Redis.

Two people sign up through the REST API and each opens a WebSocket with a real client, one
with a token header (an app), one with a ticket (a browser tab). Whatever one does that concerns
the other (follow, post, like, comment, message, read) reaches the other's socket within a
second, and never the one who did it.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from plaza.realtime.consumers import CLOSE_UNAUTHENTICATED
from tests.servers import (
    Server,
    migrate,
    receive,
    rest,
    server_environment,
    sign_up,
    start_server,
    stop_server,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("embedded")
    environment = server_environment(
        DATABASE_URL=f"sqlite:///{directory / 'plaza.sqlite3'}",
        # The embedded default, whatever the suite runs against.
        REDIS_URL="",
        CACHE_URL="",
        CELERY_TASK_ALWAYS_EAGER="",
    )
    migrate(environment)
    started = start_server(environment, directory / "uvicorn.log")
    yield started
    stop_server(started)


def next_event(socket: ClientConnection, expected_type: str) -> dict[str, Any]:
    event = receive(socket)
    assert event["type"] == expected_type, event
    return event


def assert_silent(socket: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        receive(socket, timeout=0.3)


def test_two_people_on_make_run_see_each_other_at_once(server: Server) -> None:
    ada_token, grace_token = sign_up(server, "ada"), sign_up(server, "grace")
    ticket = rest(server, "POST", "/api/realtime/ticket/", grace_token)["ticket"]

    with (
        connect(server.ws, additional_headers={"Authorization": f"Token {ada_token}"}) as ada,
        connect(f"{server.ws}?ticket={ticket}") as grace,
    ):
        assert next_event(ada, "session.ready")["data"]["user"]["username"] == "ada"
        assert next_event(grace, "session.ready")["data"]["user"]["username"] == "grace"

        rest(server, "POST", "/api/users/ada/follow/", grace_token)
        followed = next_event(ada, "notification.created")
        assert followed["data"]["type"] == "follow"
        assert followed["data"]["actor"]["username"] == "grace"
        assert next_event(ada, "notifications.unread_count")["data"] == {"count": 1}
        assert_silent(grace)

        post = rest(server, "POST", "/api/posts/", ada_token, {"title": "Hi", "content": "Live"})
        assert next_event(grace, "feed.post") == {
            "type": "feed.post",
            "id": post["id"],
            "data": post,
        }
        assert next_event(ada, "feed.post")["id"] == post["id"]  # the author's other devices

        rest(server, "POST", f"/api/posts/{post['id']}/like/", grace_token)
        liked = next_event(ada, "notification.created")
        assert liked["data"]["type"] == "like"
        assert next_event(ada, "notifications.unread_count")["data"] == {"count": 2}

        path = f"/api/posts/{post['id']}/comments/"
        comment = rest(server, "POST", path, grace_token, {"content": "Nice"})
        commented = next_event(ada, "notification.created")
        assert commented["data"]["type"] == "comment"
        assert commented["data"]["target"]["id"] == comment["id"]
        assert next_event(ada, "notifications.unread_count")["data"] == {"count": 3}
        assert_silent(grace)

        conversation = rest(
            server, "POST", "/api/conversations/", grace_token, {"participants": ["ada"]}
        )
        messages = f"/api/conversations/{conversation['id']}/messages/"
        message = rest(server, "POST", messages, grace_token, {"body": "Coffee?"})
        assert next_event(ada, "message.created") == {
            "type": "message.created",
            "id": message["id"],
            "data": message,
        }
        assert_silent(grace)  # never the sender

        marked = rest(server, "POST", f"/api/conversations/{conversation['id']}/read/", ada_token)
        assert marked["last_read_message_id"] == message["id"]
        for socket in (ada, grace):
            assert next_event(socket, "conversation.read")["data"] == marked

        # Signing out closes that device's socket; the other person's stays open.
        rest(server, "POST", "/api/auth/logout/", ada_token)
        with pytest.raises(ConnectionClosed) as closed:
            receive(ada)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_UNAUTHENTICATED
        grace.send('{"type": "ping"}')
        assert next_event(grace, "pong")["data"] == {}
