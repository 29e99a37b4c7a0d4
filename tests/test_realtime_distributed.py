"""The WebSocket face across server processes (make test-distributed).

Two real uvicorn processes, A and B, share the test's PostgreSQL database and Redis: the
Redis channel layer, presence and cache. A write through A's REST API must reach a WebSocket
open on B, and a ticket issued by A must open a WebSocket on B, once. Background tasks run
inside the server that queues them (CELERY_TASK_ALWAYS_EAGER), so no worker is needed: the
event still crosses from A's process to B's through Redis.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from plaza.core.redis import redis_client
from plaza.graph.services import follow_create
from plaza.realtime.consumers import CLOSE_TRY_AGAIN_LATER, CLOSE_UNAUTHENTICATED
from tests.factories import PostFactory, UserFactory, token_for
from tests.servers import (
    EVENT_TIMEOUT,
    RedisProcess,
    Server,
    open_session,
    receive,
    rest,
    server_environment,
    start_redis,
    start_server,
    stop_redis,
    stop_server,
)

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _test_database_url() -> str:
    """pytest-django's test database (not DATABASE_URL's), for the server processes."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="module")
def servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Servers A and B, started once for the module (and stopped before the test database
    is dropped, which their open connections would block)."""
    environment = server_environment(
        DATABASE_URL=_test_database_url(),
        REDIS_URL=django_settings.REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    logs = tmp_path_factory.mktemp("uvicorn")
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(environment, logs / f"{name}.log"))
        yield started[0], started[1]
    finally:
        for server in started:
            stop_server(server)


@pytest.fixture
def empty_redis() -> Iterator[redis.Redis]:
    """No presence, tickets or timelines left over from other tests."""
    redis_client.cache_clear()
    client = redis_client()
    assert client is not None
    client.flushdb()
    yield client
    client.flushdb()
    redis_client.cache_clear()


def test_a_like_through_server_a_reaches_a_websocket_on_server_b(
    servers: tuple[Server, Server], empty_redis: redis.Redis
) -> None:
    a, b = servers
    ada, grace = UserFactory.create(username="ada"), UserFactory.create(username="grace")
    post = PostFactory.create(author=ada)
    ada_token, grace_token = token_for(ada), token_for(grace)

    with connect(b.ws, additional_headers={"Authorization": f"Token {ada_token}"}) as ada_socket:
        ready = receive(ada_socket, timeout=5)
        assert ready["type"] == "session.ready"
        assert ready["data"]["user"]["username"] == "ada"
        assert ready["data"]["unread_notifications"] == 0

        started = time.monotonic()
        rest(a, "POST", f"/api/posts/{post.pk}/like/", grace_token)
        created = receive(ada_socket)

        assert time.monotonic() - started < EVENT_TIMEOUT
        assert created["type"] == "notification.created"
        assert created["data"]["type"] == "like"
        assert created["data"]["actor"]["username"] == "grace"
        assert created["data"]["target"]["id"] == str(post.pk)
        assert created["id"] == created["data"]["id"]
        assert receive(ada_socket) == {
            "type": "notifications.unread_count",
            "id": None,
            "data": {"count": 1},
        }
    # The same notification as either server's REST list shows it.
    listed = rest(b, "GET", "/api/notifications/", ada_token)
    assert listed["results"][0] == created["data"]


def test_a_post_through_server_a_reaches_a_follower_connected_to_server_b(
    servers: tuple[Server, Server], empty_redis: redis.Redis
) -> None:
    a, b = servers
    ada, follower, stranger = UserFactory.create(), UserFactory.create(), UserFactory.create()
    follow_create(follower=follower, followee=ada)
    ada_token = token_for(ada)

    with (
        open_session(b, token_for(follower)) as follower_socket,
        open_session(b, token_for(stranger)) as stranger_socket,
    ):
        started = time.monotonic()
        created = rest(a, "POST", "/api/posts/", ada_token, {"title": "Live", "content": "Hi"})
        event = receive(follower_socket)

        assert time.monotonic() - started < EVENT_TIMEOUT
        assert event == {"type": "feed.post", "id": created["id"], "data": created}
        with pytest.raises(TimeoutError):
            receive(stranger_socket, timeout=0.3)


def test_a_ticket_from_server_a_opens_one_websocket_on_server_b(
    servers: tuple[Server, Server], empty_redis: redis.Redis
) -> None:
    a, b = servers
    ada = UserFactory.create(username="ada")
    ticket = rest(a, "POST", "/api/realtime/ticket/", token_for(ada))["ticket"]

    with connect(f"{b.ws}?ticket={ticket}") as first:
        ready = receive(first, timeout=5)
        assert ready["type"] == "session.ready"
        assert ready["data"]["user"]["username"] == "ada"

        # Used once already: a second connection, on either server, is closed with 4401.
        for server in (b, a):
            with connect(f"{server.ws}?ticket={ticket}") as second:
                with pytest.raises(ConnectionClosed) as closed:
                    second.recv(timeout=5)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == CLOSE_UNAUTHENTICATED

        first.send('{"type": "ping"}')
        assert receive(first) == {"type": "pong", "id": None, "data": {}}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[RedisProcess]]:
    """Redis servers of this test's own, which it may stop and restart without harming the
    others: the first is running; any the test appends are stopped at the end too."""
    started = [start_redis(tmp_path)]
    yield started
    for server in started:
        if server.process.poll() is None:
            stop_redis(server)


def refused_with(server: Server, token: str) -> int | None:
    """None when a new WebSocket reaches `session.ready`; otherwise the code it was closed
    with (0 for a connection dropped without a close frame)."""
    try:
        with open_session(server, token):
            return None
    except ConnectionClosed as closed:
        return 0 if closed.rcvd is None else closed.rcvd.code


def test_with_redis_down_rest_keeps_working_and_new_websockets_are_told_to_retry(
    own_redis: list[RedisProcess], tmp_path: Path
) -> None:
    redis_server = own_redis[0]
    ada, grace = UserFactory.create(username="ada"), UserFactory.create(username="grace")
    follow_create(follower=grace, followee=ada)
    ada_token, grace_token = token_for(ada), token_for(grace)
    environment = server_environment(
        DATABASE_URL=_test_database_url(),
        REDIS_URL=redis_server.url,
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    server = start_server(environment, tmp_path / "uvicorn.log")
    try:
        with open_session(server, ada_token):
            pass  # the real-time layer works while Redis is up

        stop_redis(redis_server)

        # Every write succeeds and is read back from the database; only the live
        # events and the cached timelines are lost while Redis is away.
        post = rest(server, "POST", "/api/posts/", ada_token, {"title": "Down", "content": "x"})
        rest(server, "POST", f"/api/posts/{post['id']}/like/", grace_token)
        rest(server, "POST", f"/api/posts/{post['id']}/comments/", grace_token, {"content": "ok"})
        feed = rest(server, "GET", "/api/feed/", grace_token)
        assert [item["id"] for item in feed["results"]] == [post["id"]]
        notifications = rest(server, "GET", "/api/notifications/", ada_token)
        assert [n["type"] for n in notifications["results"]] == ["comment", "like", "follow"]
        # A new WebSocket is accepted, then closed with "try again later".
        with connect(server.ws, additional_headers={"Authorization": f"Token {ada_token}"}) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CLOSE_TRY_AGAIN_LATER

        # Redis comes back on its port: connections work again within seconds, with no
        # restart. One made while the channel layer reconnects is told to try again (1013),
        # never answered an HTTP 500.
        own_redis.append(start_redis(tmp_path, redis_server.port))
        deadline = time.monotonic() + 10
        while (code := refused_with(server, ada_token)) is not None:
            assert code == CLOSE_TRY_AGAIN_LATER
            assert time.monotonic() < deadline, "still refused 10 s after Redis came back"
            time.sleep(0.2)
        with open_session(server, ada_token) as socket:
            rest(server, "POST", f"/api/posts/{post['id']}/like/", token_for(UserFactory.create()))
            assert receive(socket, timeout=5)["type"] == "notification.created"
    finally:
        stop_server(server)
