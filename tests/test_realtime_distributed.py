"""The WebSocket face across server processes (make test-distributed).

Two real uvicorn processes, A and B, share the test's PostgreSQL database and Redis: the
Redis channel layer, presence and cache. A write through A's REST API must reach a WebSocket
open on B, and a ticket issued by A must open a WebSocket on B, once. Background tasks run
inside the server that queues them (CELERY_TASK_ALWAYS_EAGER), so no worker is needed: the
event still crosses from A's process to B's through Redis.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from plaza.core.redis import redis_client
from plaza.graph.services import follow_create
from plaza.realtime.consumers import CLOSE_UNAUTHENTICATED
from tests.factories import PostFactory, UserFactory, token_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0
EVENT_TIMEOUT = 1.0  # the promise: a write on A is heard on B within a second


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    assert port > 8300
    return port


def _test_database_url() -> str:
    """pytest-django's test database (not DATABASE_URL's), for the server processes."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _healthy(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"{server.http}/api/health/", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _start_server(environment: dict[str, str], log: Path) -> Server:
    port = _free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the venv's uvicorn, fixed arguments
            [
                str(PROJECT_ROOT / ".venv/bin/uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one at the end
        )
    return Server(process, port, log)


def _stop_server(server: Server) -> None:
    with suppress(ProcessLookupError):  # the group is already gone
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(server):
        if server.process.poll() is not None:
            raise AssertionError(f"uvicorn exited:\n{server.log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"uvicorn not healthy in time:\n{server.log.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Servers A and B, started once for the module (and stopped before the test database
    is dropped, which their open connections would block)."""
    environment = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    logs = tmp_path_factory.mktemp("uvicorn")
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(_start_server(environment, logs / f"{name}.log"))
        for server in started:
            _wait_until_healthy(server)
        yield started[0], started[1]
    finally:
        for server in started:
            _stop_server(server)


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


def rest(server: Server, method: str, path: str, token: str, data: Any = None) -> Any:
    """Call the REST API of a server; return the decoded JSON body of a 2xx answer."""
    request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
        f"{server.http}{path}",
        method=method,
        data=None if data is None else json.dumps(data).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from error
    return json.loads(body) if body else None


def receive(socket: ClientConnection, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
    """The next event, skipping the server's heartbeat pings."""
    deadline = time.monotonic() + timeout
    while True:
        event: dict[str, Any] = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if event["type"] != "ping":
            return event


@contextmanager
def open_session(server: Server, token: str) -> Iterator[ClientConnection]:
    """A WebSocket on the server, signed in with a token header, past its `session.ready`."""
    with connect(server.ws, additional_headers={"Authorization": f"Token {token}"}) as socket:
        ready = receive(socket, timeout=5)
        assert ready["type"] == "session.ready"
        yield socket


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
