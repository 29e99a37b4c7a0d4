"""Real Plaza servers for end-to-end tests: uvicorn processes on loopback ports, and the REST
and WebSocket clients that talk to them as a user's app would."""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from functools import cache
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0
EVENT_TIMEOUT = 1.0  # the promise: a write is heard on a WebSocket within a second


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def server_environment(**overrides: str) -> dict[str, str]:
    """The test process's environment for a production-like server (DEBUG off), with the
    given variables set, and those set to "" removed (e.g. REDIS_URL="" for the embedded
    mode). Uploads go to a directory of the test process's, never the checkout's media/."""
    environment = {
        **os.environ,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "MEDIA_ROOT": str(_media_root()),
        **overrides,
    }
    return {name: value for name, value in environment.items() if value != ""}


@cache
def _media_root() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="plaza-media-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _run_migrate(environment: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
    )


@cache
def _migrated_sqlite() -> Path:
    """An SQLite file at the current schema, migrated once per test process: servers start
    from copies of it rather than each running `migrate` (a Django start of its own)."""
    directory = Path(tempfile.mkdtemp(prefix="plaza-schema-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "schema.sqlite3"
    _run_migrate(server_environment(DATABASE_URL=f"sqlite:///{path}"))
    return path


def migrate(environment: dict[str, str]) -> None:
    """Bring the database a server will use (its DATABASE_URL) to the current schema: a
    new SQLite file is a copy of one migrated already, and PostgreSQL is migrated."""
    url = environment["DATABASE_URL"]
    target = Path(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:///") and not target.exists():
        shutil.copyfile(_migrated_sqlite(), target)
    else:
        _run_migrate(environment)


def start_server(environment: dict[str, str], log: Path) -> Server:
    """Start Plaza (REST and /ws/) on a free loopback port as `make run` does (config.serve,
    uvicorn); it is healthy when this returns."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
            # As `make run` serves it.
            [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one at the end
        )
    server = Server(process, port, log)
    try:
        _wait_until_healthy(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    with suppress(ProcessLookupError):  # the group is already gone
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


def start_worker(environment: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """A Celery worker as docs/deployment.md runs one (solo pool), in its own process group;
    stop it with stop_worker."""
    output = log.open("wb") if log else None
    try:
        return subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
            [
                sys.executable,
                *("-m", "celery", "-A", "config", "worker"),
                *("--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=WARNING"),
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
        )
    finally:
        if output:
            output.close()


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


def _healthy(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"{server.http}/api/health/", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(server):
        if server.process.poll() is not None:
            raise AssertionError(f"uvicorn exited:\n{server.log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"uvicorn not healthy in time:\n{server.log.read_text()}")
        time.sleep(0.1)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


def exchange(
    server: Server,
    method: str,
    path: str,
    token: str | None = None,
    data: Any = None,
    timeout: float = 10,
) -> Answer:
    """Call the REST API of a server and keep the whole answer: status, headers, raw body."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
        f"{server.http}{path}",
        method=method,
        data=None if data is None else json.dumps(data).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def call(
    server: Server, method: str, path: str, token: str | None = None, data: Any = None
) -> tuple[int, Any]:
    """Call the REST API of a server: the status code and the decoded JSON body (or None)."""
    answer = exchange(server, method, path, token, data)
    return answer.status, json.loads(answer.body) if answer.body else None


def rest(server: Server, method: str, path: str, token: str | None, data: Any = None) -> Any:
    """Call the REST API of a server; return the decoded JSON body of a 2xx answer."""
    status, body = call(server, method, path, token, data)
    if not 200 <= status < 300:
        raise AssertionError(f"{method} {path}: {status} {body!r}")
    return body


def sign_up(server: Server, username: str) -> str:
    """A new account on the server (`username@example.com`); its token."""
    answer = rest(
        server,
        "POST",
        "/api/auth/register/",
        None,
        {"username": username, "email": f"{username}@example.com", "password": "long-passphrase"},
    )
    token: str = answer["token"]
    return token


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


@dataclass
class RedisProcess:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(directory: Path, port: int | None = None) -> RedisProcess:
    """A throwaway redis-server of the test's own (apt-get install redis-server), on a free
    loopback port or the given one (to bring a stopped server back where clients expect it)."""
    executable = shutil.which("redis-server")
    assert executable, "redis-server not found: apt-get install redis-server"
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - redis-server from PATH, fixed arguments
        [
            executable,
            *("--bind", "127.0.0.1", "--port", str(port)),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as link:
            link.sendall(b"PING\r\n")
            if link.recv(64).startswith(b"+PONG"):
                return RedisProcess(process, port)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"redis-server did not start on port {port}")
        time.sleep(0.05)


def stop_redis(redis: RedisProcess) -> None:
    redis.process.terminate()
    try:
        redis.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        redis.process.kill()
        redis.process.wait(timeout=10)
