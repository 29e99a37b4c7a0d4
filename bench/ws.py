"""Plaza's WebSocket benchmark: `make bench-ws` calls this (see bench/README.md).

    python bench/ws.py run --clients 1000                   SQLite, in-memory channel layer
    python bench/ws.py run --clients 1000 --redis           Redis channel layer (throwaway Redis)
    python bench/ws.py run --clients 1000 --db postgres     throwaway PostgreSQL cluster

One uvicorn process serves `config.asgi:application` (DEBUG off) on a data set built for the
run: one user per client, each with a post and a token, and conversations between neighbours.
The benchmark measures the server's RSS, opens the WebSockets (`Authorization: Token`), waits
for them to settle and measures again: memory per idle connection. Then threads drive likes,
comments and direct messages through the REST API at a steady rate, and every event the
clients receive is matched against the events those writes must cause: delivery latency, lost
and duplicated deliveries. Results: a table on stdout and
bench/results/<timestamp>-ws-<clients>-<db>[-redis].{json,md}.

Processes, servers and report details come from bench/run.py. The `setup` subcommand, run in
a child process, is the one part that imports Django; the rest needs `websockets`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import json
import math
import os
import random
import re
import resource
import shlex
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from common import (
    DATABASES,
    ROOT,
    VENV_BIN,
    WORK_DIR,
    BenchError,
    percentile,
    rel,
    say,
)
from processes import (
    RedisServer,
    RssSampler,
    base_env,
    descendants,
    free_port,
    layouts,
    postgres_cluster,
    redis_server,
    redis_version,
    remove_sqlite,
    rss_mb,
    run_checked,
    server,
    set_label,
)
from report import run_meta, save_results
from run import check_env_file, run_until_done
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

sys.path.insert(0, str(ROOT))  # the project, for the id layout (Django is not imported here)
from plaza.core.ids import EPOCH_MS, TIMESTAMP_SHIFT

WS_DIR = WORK_DIR / "ws"
FIRST_PORT = 8501  # loopback ports up to 8500 belong to others on shared machines
USERNAME_PREFIX = "wsbench"
KINDS = ("like", "comment", "message")

# Targets from the issue, checked in every report.
TARGET_P99_MS = 100.0
TARGET_KB_PER_CONNECTION = 50.0

DEFAULT_MAX_CONNECTIONS_PER_USER = 10  # REALTIME_MAX_CONNECTIONS_PER_USER's default
CONNECT_CONCURRENCY = 50  # handshakes in flight at once, as many clients arriving together
CONNECT_TIMEOUT_S = 60.0
PROGRESS_EVERY = 100
WARMUP_PAUSE_S = 1.0  # after the warm-up, before the first RSS reading
SETTLE_S = 5.0  # idle connections left alone this long before the second RSS reading
GRACE_S = 10.0  # an expected event not received this long after the last write is lost
DUPLICATE_WINDOW_S = 1.0  # kept listening after the last expected event, for late repeats
LAG_TICK_S = 0.01
FILES_MARGIN = 256  # descriptors besides the sockets: libraries, logs, the database
HTTP_TIMEOUT_S = 30.0


# --- The data set (child process with Django) ----------------------------------------------


def setup_main(spec_path: Path) -> None:
    """Create the users, their tokens and posts, and the conversations; write them as JSON.

    Rows go in with bulk_create (the users have no password: nobody signs in, they hold
    tokens), the conversations through the service, which keeps their membership rows right.
    """
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))  # this file's directory is on the path, the project's is not
    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from plaza.accounts.models import AuthToken, User
    from plaza.messaging.services import conversation_get_or_create
    from plaza.posts.models import Post

    spec = json.loads(spec_path.read_text())
    count = int(spec["users"])
    names = [f"{USERNAME_PREFIX}{index:05d}" for index in range(count)]
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(
                username=name,
                email=f"{name}@bench.invalid",
                password=make_password(None),
                posts_count=1,
            )
            for name in names
        )
        tokens = [AuthToken.generate(user, device="bench-ws")[1] for user in users]
        posts = Post.objects.bulk_create(
            Post(author=user, title=f"A post by {user.username}", content="Benchmark post.")
            for user in users
        )
        # A conversation of two between each user and the next, and one of three for every
        # third user: messages reach one or two other people.
        memberships = [[index, (index + 1) % count] for index in range(count)]
        memberships += [[index, index + 1, index + 2] for index in range(0, count - 2, 3)]
        conversations = []
        for members in memberships:
            conversation, _created = conversation_get_or_create(
                creator=users[members[0]], usernames=[names[other] for other in members[1:]]
            )
            conversations.append({"id": str(conversation.pk), "members": members})
    Path(spec["output"]).write_text(
        json.dumps(
            {
                "users": [
                    {"username": user.username, "token": token, "post_id": str(post.pk)}
                    for user, token, post in zip(users, tokens, posts, strict=True)
                ],
                "conversations": conversations,
            }
        )
    )
    print(f"  {count:,} users with a token and a post, {len(conversations):,} conversations")


@dataclass
class DataSet:
    usernames: list[str]
    tokens: list[str]
    post_ids: list[str]
    conversations: list[tuple[str, list[int]]]  # (id, member user indices)

    @classmethod
    def load(cls, path: Path) -> DataSet:
        raw = json.loads(path.read_text())
        return cls(
            usernames=[user["username"] for user in raw["users"]],
            tokens=[user["token"] for user in raw["users"]],
            post_ids=[user["post_id"] for user in raw["users"]],
            conversations=[(item["id"], item["members"]) for item in raw["conversations"]],
        )


# --- The writes and the events they must cause ----------------------------------------------

EventKey = tuple[str, str, str]  # (kind, object id, actor): what a client can match on


@dataclass
class Write:
    kind: str
    actor: int  # user index
    path: str
    body: dict[str, str]
    recipients: list[int]  # user indices who must hear of it
    sent: float = 0.0  # time.monotonic() just before the request went out
    answered: float = 0.0  # ... and once its response was read
    status: int = 0
    key: EventKey | None = None  # known once the response names the new object
    error: str | None = None


def plan_writes(
    data: DataSet, count: int, seed: int, used_likes: set[tuple[int, int]]
) -> list[Write]:
    """`count` writes, likes, comments and messages in turn, by random users to random others.
    No like is repeated (a repeat is a 200 and notifies nobody), nor aimed at oneself."""
    rng = random.Random(seed)
    users = len(data.usernames)
    likes = math.ceil(count / len(KINDS))
    if likes > users * (users - 1) - len(used_likes):
        raise BenchError(f"{users:,} users cannot like {likes:,} times without repeats.")
    writes = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        if kind == "message":
            conversation_id, members = rng.choice(data.conversations)
            sender = rng.choice(members)
            writes.append(
                Write(
                    kind,
                    sender,
                    f"/api/conversations/{conversation_id}/messages/",
                    {"body": f"Message {number} from the benchmark."},
                    [member for member in members if member != sender],
                )
            )
            continue
        while True:
            actor, author = rng.randrange(users), rng.randrange(users)
            if actor != author and (kind != "like" or (actor, author) not in used_likes):
                break
        post_id = data.post_ids[author]
        if kind == "like":
            used_likes.add((actor, author))
            writes.append(Write(kind, actor, f"/api/posts/{post_id}/like/", {}, [author]))
        else:
            writes.append(
                Write(
                    kind,
                    actor,
                    f"/api/posts/{post_id}/comments/",
                    {"content": f"Comment {number} from the benchmark."},
                    [author],
                )
            )
    return writes


def expected_key(write: Write, data: DataSet, response: dict[str, Any]) -> EventKey | None:
    """The key of the event a successful write causes, as `event_key` reads it off the frame."""
    if write.kind == "like":
        # 201: a new like, notified; 200: liked before, nothing to announce.
        if write.status != 201:
            return None
        return ("like", str(response["post_id"]), data.usernames[write.actor])
    if write.status != 201:
        return None
    return (write.kind, str(response["id"]), "")


def event_key(event: dict[str, Any]) -> EventKey | None:
    data = event.get("data") or {}
    if event.get("type") == "notification.created":
        target = data.get("target") or {}
        if target.get("type") == "post":  # a like: the notification names the liked post
            return ("like", str(target.get("id")), str((data.get("actor") or {}).get("username")))
        if target.get("type") == "comment":
            return ("comment", str(target.get("id")), "")
    if event.get("type") == "message.created":
        return ("message", str(event.get("id")), "")
    return None


def send_writes(
    writes: list[Write],
    data: DataSet,
    port: int,
    start: float,
    rate: float,
    slot: int,
    threads: int,
) -> None:
    """One driver thread: its share of the writes on one keep-alive connection, each at its
    place in the run's schedule (the k-th write of the run at start + k / rate)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        for number, write in enumerate(writes):
            delay = start + (slot + number * threads) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps(write.body).encode()
            headers = {
                "Authorization": f"Token {data.tokens[write.actor]}",
                "Content-Type": "application/json",
            }
            write.sent = time.monotonic()
            try:
                connection.request("POST", write.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                write.answered = time.monotonic()
                write.status = response.status
                parsed = json.loads(payload) if payload else {}
                write.key = expected_key(write, data, parsed)
                if not 200 <= write.status < 300:
                    write.error = f"{write.status}: {payload[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                write.answered = time.monotonic()
                write.error = f"{type(exc).__name__}: {exc}"
                connection.close()  # reconnects on the next request
    finally:
        connection.close()


# --- The clients ----------------------------------------------------------------------------


@dataclass
class Client:
    index: int
    user: int
    socket: ClientConnection | None = None
    listener: asyncio.Task[None] | None = None
    problem: str | None = None  # why it did not open


@dataclass
class Recorder:
    """Everything the clients receive, timed as it arrives."""

    first_seen: dict[tuple[int, EventKey], float] = field(default_factory=dict)
    # Receipt minus the creation time in the event's id, in seconds (see created_at).
    since_created: dict[tuple[int, EventKey], float] = field(default_factory=dict)
    counts: Counter[tuple[int, EventKey]] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)  # closed by the server, by code
    closing: bool = False  # set once the benchmark closes the connections itself

    def record(self, client: int, text: str | bytes, received: float, wall: float) -> None:
        event = json.loads(text)
        self.types[str(event.get("type"))] += 1
        key = event_key(event)
        if key is not None:
            self.counts[(client, key)] += 1
            if (client, key) not in self.first_seen:
                self.first_seen[(client, key)] = received
                created = created_at(event)
                if created is not None:
                    self.since_created[(client, key)] = wall - created


def created_at(event: dict[str, Any]) -> float | None:
    """When the event's object was created, in Unix seconds, read from its id: Plaza's ids
    carry their creation time in milliseconds (plaza.core.ids). The row is inserted inside
    the writing transaction, so this comes before the commit, and receipt minus it is an
    upper bound of commit-to-client latency that, unlike the one from the request being
    sent, excludes the request's wait for the server. Server and clients share this
    machine's clock."""
    try:
        object_id = int(event.get("id") or "")
    except ValueError:
        return None
    return ((object_id >> TIMESTAMP_SHIFT) + EPOCH_MS) / 1000


async def listen(client: Client, recorder: Recorder) -> None:
    assert client.socket is not None  # noqa: S101 - listeners start on open sockets
    socket = client.socket
    with contextlib.suppress(ConnectionClosed):
        async for message in socket:
            recorder.record(client.index, message, time.monotonic(), time.time())
    if not recorder.closing:
        recorder.closed[f"{socket.close_code} {socket.close_reason}".strip()] += 1


async def open_client(
    client: Client,
    uri: str,
    token: str,
    compression: str | None,
    limit: asyncio.Semaphore,
    recorder: Recorder,
) -> None:
    """Open one WebSocket and wait for its `session.ready`; on failure, say why in
    client.problem."""
    async with limit:
        try:
            socket = await connect(
                uri,
                additional_headers={"Authorization": f"Token {token}"},
                compression=compression,
                proxy=None,
                open_timeout=CONNECT_TIMEOUT_S,
                # Idle clients: the server's heartbeats keep the line alive, and the library
                # still answers the server's protocol pings.
                ping_interval=None,
            )
            first = json.loads(await asyncio.wait_for(socket.recv(), CONNECT_TIMEOUT_S))
        except ConnectionClosed as exc:
            client.problem = f"closed {exc.rcvd.code if exc.rcvd else '?'} before session.ready"
            return
        except (OSError, TimeoutError, InvalidHandshake, ValueError) as exc:
            client.problem = f"{type(exc).__name__}: {exc}"
            return
    if first.get("type") != "session.ready":
        client.problem = f"first frame was {first.get('type')!r}, not session.ready"
        await socket.close()
        return
    recorder.types["session.ready"] += 1
    client.socket = socket
    client.listener = asyncio.create_task(listen(client, recorder))


async def open_all(
    clients: list[Client],
    uri: str,
    data: DataSet,
    compression: str | None,
    recorder: Recorder,
) -> float:
    """Open every client, reporting progress; returns the seconds it took."""
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.monotonic()
    tasks = [
        asyncio.create_task(
            open_client(client, uri, data.tokens[client.user], compression, limit, recorder)
        )
        for client in clients
    ]
    for done, finished in enumerate(asyncio.as_completed(tasks), 1):
        await finished
        if done % PROGRESS_EVERY == 0 or done == len(tasks):
            opened = sum(1 for client in clients if client.socket is not None)
            say(
                f"  {done:,}/{len(tasks):,} handshakes done, {opened:,} open "
                f"({time.monotonic() - started:.1f} s)"
            )
    return time.monotonic() - started


async def close_all(clients: list[Client], recorder: Recorder) -> None:
    recorder.closing = True
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY * 4)

    async def close(client: Client) -> None:
        if client.socket is None:
            return
        async with limit:
            with contextlib.suppress(Exception):
                await client.socket.close()
        if client.listener is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await client.listener

    await asyncio.gather(*(close(client) for client in clients))


async def warm_up(port: int, data: DataSet, compression: str | None) -> None:
    """One of each write to a connected recipient, so that imports and first-use caches are
    in the server's baseline RSS and not in the first events' latency. User 0 acts, user 1
    listens; their like is excluded from the plan."""
    uri = f"ws://127.0.0.1:{port}/ws/"
    async with connect(
        uri,
        additional_headers={"Authorization": f"Token {data.tokens[1]}"},
        compression=compression,
        proxy=None,
        ping_interval=None,
    ) as socket:
        await socket.recv()  # session.ready
        conversation_id = next(cid for cid, members in data.conversations if members == [0, 1])
        warmups = [
            Write("like", 0, f"/api/posts/{data.post_ids[1]}/like/", {}, [1]),
            Write("comment", 0, f"/api/posts/{data.post_ids[1]}/comments/", {"content": "Hi"}, [1]),
            Write(
                "message", 0, f"/api/conversations/{conversation_id}/messages/", {"body": "Hi"}, [1]
            ),
        ]
        # One thread, and a rate so high that every write is due at once.
        await asyncio.to_thread(send_writes, warmups, data, port, time.monotonic(), 1e9, 0, 1)
        for write in warmups:
            if write.error:
                raise BenchError(f"the warm-up {write.kind} failed: {write.error}")
        # notification.created and notifications.unread_count twice, message.created once.
        with contextlib.suppress(TimeoutError):
            for _ in range(5):
                await asyncio.wait_for(socket.recv(), 10)


# --- Measurements of the server process -----------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    return {
        "rss_mb": round(rss_mb(pid) or 0.0, 2),
        "anon_mb": round(rss_mb(pid, "RssAnon") or 0.0, 2),
        "threads": float(process_status(pid, "Threads") or 0),
    }


def process_status(pid: int, name: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    return None


async def loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late this process's event loop wakes up: the benchmark's own share of latency."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(LAG_TICK_S)
        samples.append(time.monotonic() - before - LAG_TICK_S)


def raise_open_file_limit(clients: int, drivers: int) -> int:
    """Raise this process's soft limit on open files (the server, started from here, inherits
    it): each WebSocket is a descriptor here and one in the server."""
    needed = clients + drivers + FILES_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(
            f"{clients:,} clients need about {needed:,} open files in this process and as many "
            f"in the server, but the limit is {soft:,} (hard limit {hard:,}). Raise it: "
            f"`ulimit -n {needed}` in the shell that runs make (as root, or after raising the "
            f"hard limit in /etc/security/limits.conf; in Docker: --ulimit nofile={needed}), "
            "or run with fewer CLIENTS."
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def server_log_problems(log_path: Path) -> list[str]:
    """The server's log lines at WARNING or above: skipped live deliveries, errors."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]


# --- The run --------------------------------------------------------------------------------


@dataclass
class Settings:
    clients: int
    users: int
    rate: float
    duration: float
    drivers: int
    compression: str | None
    seed: int


def stats_ms(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "p50": round(percentile(values, 0.50) * 1000, 1),
        "p90": round(percentile(values, 0.90) * 1000, 1),
        "p99": round(percentile(values, 0.99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


async def measure(
    settings: Settings, data: DataSet, port: int, pid: int, sampler: RssSampler
) -> dict[str, Any]:
    uri = f"ws://127.0.0.1:{port}/ws/"
    say("Warming up: one like, comment and message to a connected user")
    set_label([sampler], "warmup")
    await warm_up(port, data, settings.compression)
    await asyncio.sleep(WARMUP_PAUSE_S)
    baseline = memory(pid)
    say(f"  server RSS {baseline['rss_mb']:.1f} MB ({baseline['anon_mb']:.1f} MB anonymous)")

    clients = [Client(index, index % settings.users) for index in range(settings.clients)]
    recorder = Recorder()
    say(f"Opening {settings.clients:,} WebSockets ({CONNECT_CONCURRENCY} handshakes at a time)")
    set_label([sampler], "connect")
    connect_s = await open_all(clients, uri, data, settings.compression, recorder)
    problems = Counter(client.problem for client in clients if client.problem)
    for problem, count in problems.most_common(5):
        say(f"  {count:,} clients did not open: {problem}")
    open_clients = [client for client in clients if client.socket is not None]
    if not open_clients:
        raise BenchError("no WebSocket opened; see the server's log.")
    sample = open_clients[0].socket
    response = sample.response if sample is not None else None
    extensions = response.headers.get("Sec-WebSocket-Extensions", "") if response else ""

    set_label([sampler], "idle")
    await asyncio.sleep(SETTLE_S)
    idle = memory(pid)
    per_connection_kb = (idle["rss_mb"] - baseline["rss_mb"]) * 1024 / len(open_clients)
    per_connection_anon_kb = (idle["anon_mb"] - baseline["anon_mb"]) * 1024 / len(open_clients)
    say(
        f"  {len(open_clients):,} idle connections: server RSS {idle['rss_mb']:.1f} MB, "
        f"{per_connection_kb:.1f} KB per connection ({per_connection_anon_kb:.1f} KB anonymous)"
    )

    count = round(settings.rate * settings.duration)
    writes = plan_writes(data, count, settings.seed, used_likes={(0, 1)})
    say(
        f"Driving {count:,} writes (likes, comments, messages in turn) at {settings.rate:g}/s "
        f"for {settings.duration:g} s from {settings.drivers} threads"
    )
    set_label([sampler], "load")
    lag: list[float] = []
    stop_lag = asyncio.Event()
    lag_task = asyncio.create_task(loop_lag(lag, stop_lag))
    cpu_before, bench_before = cpu_seconds(pid), sum(os.times()[:2])
    loop = asyncio.get_running_loop()
    start = time.monotonic() + 0.2
    with ThreadPoolExecutor(settings.drivers, thread_name_prefix="driver") as executor:
        await asyncio.gather(
            *(
                loop.run_in_executor(
                    executor,
                    send_writes,
                    writes[slot :: settings.drivers],
                    data,
                    port,
                    start,
                    settings.rate,
                    slot,
                    settings.drivers,
                )
                for slot in range(settings.drivers)
            )
        )
    load_s = max(write.answered for write in writes) - start
    cpu_load = cpu_seconds(pid) - cpu_before
    bench_cpu = sum(os.times()[:2]) - bench_before
    stop_lag.set()
    await lag_task
    errors = [write for write in writes if write.error]
    say(
        f"  {count / load_s:,.1f} writes/s over {load_s:.1f} s; {len(errors):,} failed; server "
        f"CPU {cpu_load / load_s:.0%} of one core"
    )
    for write in errors[:5]:
        say(f"    {write.kind} {write.path}: {write.error}")

    # Every connection of each recipient must get the event once.
    connections_of: dict[int, list[int]] = {}
    for client in open_clients:
        connections_of.setdefault(client.user, []).append(client.index)
    expected: dict[tuple[int, EventKey], Write] = {}
    for write in writes:
        if write.key is not None:
            for user in write.recipients:
                for index in connections_of.get(user, []):
                    expected[(index, write.key)] = write
    set_label([sampler], "grace")
    waited_from = time.monotonic()
    pending = [pair for pair in expected if pair not in recorder.first_seen]
    while pending and time.monotonic() - waited_from < GRACE_S:
        await asyncio.sleep(0.05)
        pending = [pair for pair in pending if pair not in recorder.first_seen]
    await asyncio.sleep(DUPLICATE_WINDOW_S)
    during_load = memory(pid)

    say("Closing the WebSockets")
    set_label([sampler], "close")
    await close_all(clients, recorder)
    await asyncio.sleep(SETTLE_S)
    after_close = memory(pid)

    return summarize(
        settings=settings,
        writes=writes,
        expected=expected,
        recorder=recorder,
        clients=clients,
        memory_readings={
            "baseline": baseline,
            "idle": idle,
            "after_load": during_load,
            "after_close": after_close,
        },
        per_connection_kb=per_connection_kb,
        per_connection_anon_kb=per_connection_anon_kb,
        start=start,
        extra={
            "connect_s": round(connect_s, 1),
            "extensions": extensions,
            "open_problems": dict(problems),
            "load_s": round(load_s, 2),
            "server_cpu_share": round(cpu_load / load_s, 3),
            "bench_cpu_share": round(bench_cpu / load_s, 3),
            "bench_loop_lag_ms": stats_ms(lag),
        },
    )


def summarize(
    *,
    settings: Settings,
    writes: list[Write],
    expected: dict[tuple[int, EventKey], Write],
    recorder: Recorder,
    clients: list[Client],
    memory_readings: dict[str, dict[str, float]],
    per_connection_kb: float,
    per_connection_anon_kb: float,
    start: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    # Latencies by the second of the load their write was sent in: when the slow ones happen.
    by_second: dict[int, list[float]] = {}
    for pair, write in expected.items():
        if pair in recorder.first_seen:
            latency = recorder.first_seen[pair] - write.sent
            by_second.setdefault(int(write.sent - start), []).append(latency)
    timeline = [
        {"second": second, "deliveries": len(values), **(stats_ms(values) or {})}
        for second, values in sorted(by_second.items())
    ]
    all_from_sent: list[float] = []
    all_from_answer: list[float] = []
    all_from_created: list[float] = []
    for kind in KINDS:
        of_kind = [write for write in writes if write.kind == kind]
        pairs = [(pair, write) for pair, write in expected.items() if write.kind == kind]
        seen = [(pair, write) for pair, write in pairs if pair in recorder.first_seen]
        from_sent = [recorder.first_seen[pair] - write.sent for pair, write in seen]
        from_answer = [recorder.first_seen[pair] - write.answered for pair, write in seen]
        from_created = [
            recorder.since_created[pair] for pair, _write in seen if pair in recorder.since_created
        ]
        all_from_sent += from_sent
        all_from_answer += from_answer
        all_from_created += from_created
        kinds[kind] = {
            "writes": len(of_kind),
            "errors": sum(1 for write in of_kind if write.error),
            "http_ms": stats_ms([w.answered - w.sent for w in of_kind if not w.error]),
            "expected": len(pairs),
            "received": len(seen),
            "lost": len(pairs) - len(seen),
            "duplicated": sum(recorder.counts[pair] - 1 for pair, _write in seen),
            "latency_from_sent_ms": stats_ms(from_sent),
            "latency_from_answer_ms": stats_ms(from_answer),
            "latency_from_created_ms": stats_ms(from_created),
        }
    unexpected = sum(n for pair, n in recorder.counts.items() if pair not in expected)
    open_count = sum(1 for client in clients if client.socket is not None)
    lost = sum(item["lost"] for item in kinds.values())
    duplicated = sum(item["duplicated"] for item in kinds.values())
    return {
        "connections": {"asked": settings.clients, "opened": open_count, **extra},
        "memory": {
            **memory_readings,
            "per_connection_kb": round(per_connection_kb, 1),
            "per_connection_anon_kb": round(per_connection_anon_kb, 1),
        },
        "writes": {
            "planned": len(writes),
            "failed": sum(1 for write in writes if write.error),
            "per_s": round(len(writes) / extra["load_s"], 1),
            "first_errors": [f"{w.kind}: {w.error}" for w in writes if w.error][:10],
        },
        "deliveries": {
            "expected": len(expected),
            "received": len(expected) - lost,
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": unexpected,
            "clients_reached": len({pair[0] for pair in expected if pair in recorder.first_seen}),
            "closed_by_server": dict(recorder.closed),
            "events_by_type": dict(recorder.types),
            "latency_from_sent_ms": stats_ms(all_from_sent),
            "latency_from_answer_ms": stats_ms(all_from_answer),
            "latency_from_created_ms": stats_ms(all_from_created),
        },
        "kinds": kinds,
        "timeline": timeline,
    }


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the issue, and the all-connected precondition: met or not, and why."""
    deliveries, memory_result = result["deliveries"], result["memory"]
    latency = deliveries["latency_from_created_ms"]
    p99 = latency["p99"] if latency else math.inf
    connections = result["connections"]
    closed = sum(deliveries["closed_by_server"].values())
    checks = {
        "connections": (
            connections["opened"] == connections["asked"] and closed == 0,
            f"{connections['opened']:,} of {connections['asked']:,} WebSockets opened, "
            f"{closed:,} closed by the server during the run",
        ),
        "latency": (
            p99 < TARGET_P99_MS,
            f"delivery p99 {p99:,.1f} ms from the object's creation in the writing "
            f"transaction, an upper bound of commit to client (target < {TARGET_P99_MS:.0f} ms)",
        ),
        "lost": (deliveries["lost"] == 0, f"{deliveries['lost']:,} events lost (target 0)"),
        "duplicated": (
            deliveries["duplicated"] == 0,
            f"{deliveries['duplicated']:,} duplicated (target 0)",
        ),
        "memory": (
            memory_result["per_connection_kb"] < TARGET_KB_PER_CONNECTION,
            f"{memory_result['per_connection_kb']:.1f} KB of server RSS per idle connection "
            f"(target < {TARGET_KB_PER_CONNECTION:.0f} KB)",
        ),
    }
    return {name: {"met": ok, "text": text} for name, (ok, text) in checks.items()}


# --- The report -----------------------------------------------------------------------------


def latency_cell(stats: dict[str, float] | None, key: str) -> str:
    return "-" if stats is None else f"{stats[key]:,.1f}"


def markdown(report: dict[str, Any]) -> str:
    meta, result = report["meta"], report["result"]
    connections, memory_result = result["connections"], result["memory"]
    deliveries, writes = result["deliveries"], result["writes"]
    sent, answer = deliveries["latency_from_sent_ms"], deliveries["latency_from_answer_ms"]
    created = deliveries["latency_from_created_ms"]
    lag = connections["bench_loop_lag_ms"]

    def verdict(target: str) -> str:
        return "met" if report["targets"][target]["met"] else "NOT met"

    lines = [
        f"# Plaza WebSocket benchmark: {meta['clients']:,} clients, {meta['db']}, "
        f"{meta['channel_layer']}, {meta['started_at']}",
        "",
        f"`{meta['command']}`",
        "",
        f"- commit {meta['commit']}; Python {meta['python']}, Django {meta['django']}, "
        f"Channels {meta['channels']}, uvicorn {meta['uvicorn']}, websockets "
        f"{meta['websockets']}" + (f", {meta['redis']}" if meta.get("redis") else "") + "; "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}); load average before the run "
        f"{meta['load_average_before']} (1 min)",
        f"- server: one process, `{meta['server_command']}`, DEBUG off, channel layer "
        f"{meta['channel_layer']}",
        f"- data: {meta['users']:,} users, one post each, {meta['conversations']:,} "
        "conversations (one of two per user with the next, one of three per third user)",
        f"- clients: {connections['opened']:,} WebSockets, {meta['clients_per_user']} per user, "
        f"opened {CONNECT_CONCURRENCY} at a time in {connections['connect_s']:.1f} s; "
        f"extensions negotiated: {connections['extensions'] or 'none'}",
        f"- load: likes, comments and messages in turn, {meta['rate']:g}/s asked for "
        f"{meta['duration_s']:g} s from {meta['drivers']} threads (HTTP/1.1 keep-alive); "
        f"{writes['per_s']:,.1f}/s done, {writes['failed']:,} failed",
        "",
        "| measure | result | target | |",
        "| --- | ---: | ---: | --- |",
        f"| delivery latency p50, from the object's creation (upper bound) "
        f"| {latency_cell(created, 'p50')} ms | | |",
        f"| delivery latency p99, same | {latency_cell(created, 'p99')} ms "
        f"| < {TARGET_P99_MS:.0f} ms | {verdict('latency')} |",
        f"| delivery latency p50 / p99, from the request being sent (looser upper bound) "
        f"| {latency_cell(sent, 'p50')} / {latency_cell(sent, 'p99')} ms | | |",
        f"| delivery latency p50 / p99, from the response (lower bound) "
        f"| {latency_cell(answer, 'p50')} / {latency_cell(answer, 'p99')} ms | | |",
        f"| deliveries expected / received | {deliveries['expected']:,} / "
        f"{deliveries['received']:,} | | |",
        f"| lost | {deliveries['lost']:,} | 0 | {verdict('lost')} |",
        f"| duplicated | {deliveries['duplicated']:,} | 0 | {verdict('duplicated')} |",
        f"| server RSS per idle connection | {memory_result['per_connection_kb']:.1f} KB "
        f"| < {TARGET_KB_PER_CONNECTION:.0f} KB | {verdict('memory')} |",
        f"| writes per second | {writes['per_s']:,.1f} | | |",
        "",
        "| write | count | failed | HTTP p50 / p99 ms | deliveries | lost | duplicated "
        "| latency p50 / p90 / p99 / max ms (from sent) | p50 / p99 ms (from response) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, item in result["kinds"].items():
        http_ms, from_sent, from_answer = (
            item["http_ms"],
            item["latency_from_sent_ms"],
            item["latency_from_answer_ms"],
        )
        lines.append(
            f"| {kind} | {item['writes']:,} | {item['errors']:,} "
            f"| {latency_cell(http_ms, 'p50')} / {latency_cell(http_ms, 'p99')} "
            f"| {item['expected']:,} | {item['lost']:,} | {item['duplicated']:,} "
            f"| {' / '.join(latency_cell(from_sent, key) for key in ('p50', 'p90', 'p99', 'max'))} "
            f"| {latency_cell(from_answer, 'p50')} / {latency_cell(from_answer, 'p99')} |"
        )
    readings = [
        ("after start-up and warm-up", memory_result["baseline"]),
        (
            f"with {connections['opened']:,} idle connections ({SETTLE_S:g} s settled)",
            memory_result["idle"],
        ),
        ("after the load and the grace period", memory_result["after_load"]),
        (f"after closing every connection ({SETTLE_S:g} s)", memory_result["after_close"]),
    ]
    lines += [
        "",
        "| server process | RSS MB | anonymous MB | threads |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {reading['rss_mb']:.1f} | {reading['anon_mb']:.1f} "
            f"| {reading['threads']:.0f} |"
            for label, reading in readings
        ),
        f"| per idle connection | {memory_result['per_connection_kb']:.1f} KB "
        f"| {memory_result['per_connection_anon_kb']:.1f} KB | |",
        "",
        f"Server CPU during the load: {connections['server_cpu_share']:.0%} of one core; the "
        f"benchmark process (clients and drivers): {connections['bench_cpu_share']:.0%}; its "
        f"event loop woke up late by p99 {latency_cell(lag, 'p99')} ms, at most "
        f"{latency_cell(lag, 'max')} ms (included in the latencies above).",
        "Slowest seconds of the load, by p99 latency from sent (second: p99 / max ms): "
        + ", ".join(
            f"{row['second']}: {row['p99']:,.0f} / {row['max']:,.0f}"
            for row in sorted(result["timeline"], key=lambda row: -row["p99"])[:5]
        )
        + "; the JSON has every second.",
        "Events received, by type: "
        + ", ".join(f"{name} {n:,}" for name, n in sorted(deliveries["events_by_type"].items()))
        + f". {deliveries['clients_reached']:,} clients received at least one expected event; "
        f"{deliveries['unexpected']:,} events matched no write; connections closed by the server "
        f"during the run: {sum(deliveries['closed_by_server'].values()):,}"
        + (
            " ("
            + ", ".join(f"{code} x{n}" for code, n in deliveries["closed_by_server"].items())
            + ")"
            if deliveries["closed_by_server"]
            else ""
        )
        + f". Server log lines at WARNING or above: {len(report['server_log_problems']):,}.",
        "",
        "Latency is measured in the benchmark process, to the client's receipt of the event, "
        "from three moments: the object's creation (the time in its id, set inside the writing "
        "transaction, so before the commit), the driver sending the write (earlier still) and "
        "its response being read (after the commit). The true commit-to-client latency lies "
        "between the last and the first two; the target is checked on the creation bound. An "
        f"event counts as lost when it has not arrived {GRACE_S:g} s after the last write.",
        "",
        "Targets:",
        *(f"- {verdict(name)}: {target['text']}" for name, target in report["targets"].items()),
    ]
    return "\n".join(lines) + "\n"


# --- The command ----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(db: str, env_extra: list[str]) -> Iterator[str]:
    """A fresh SQLite file in .tmp/bench/ws/ (replaced on every run) or a throwaway
    PostgreSQL cluster; yields its DATABASE_URL."""
    if db == "postgres":
        with postgres_cluster() as database_url:
            yield database_url
        return
    WS_DIR.mkdir(parents=True, exist_ok=True)
    database = WS_DIR / "plaza.sqlite3"
    remove_sqlite(database)
    yield f"sqlite:///{database}"


def command_run(args: argparse.Namespace) -> None:
    check_env_file()
    users = args.users or args.clients
    cap = next(
        (
            int(item.split("=", 1)[1])
            for item in args.env
            if item.startswith("REALTIME_MAX_CONNECTIONS_PER_USER=")
        ),
        DEFAULT_MAX_CONNECTIONS_PER_USER,
    )
    if users < 3 or users * cap < args.clients:
        raise BenchError(
            f"{args.clients:,} clients need at least {max(3, math.ceil(args.clients / cap)):,} "
            f"users ({cap} connections per user at most)."
        )
    files = raise_open_file_limit(args.clients, args.drivers)
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    run_dir = WS_DIR / f"run-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1) / 2:
        say(
            f"  note: the load average is {load_before:.1f} on {os.cpu_count()} CPUs: something "
            "else is running, and latencies will be noisy."
        )
    settings = Settings(
        clients=args.clients,
        users=users,
        rate=args.rate,
        duration=args.duration,
        drivers=args.drivers,
        compression=None if args.compression == "none" else args.compression,
        seed=args.seed if args.seed is not None else random.randrange(1 << 30),
    )
    python = str(VENV_BIN / "python")
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_database(args.db, args.env))
        env = base_env(database_url, args.env)
        say(f"Building the data set: {users:,} users")
        run_checked(
            [python, "manage.py", "migrate", "--noinput", "--verbosity", "0"], env, "migrate"
        )
        spec = run_dir / "setup.json"
        data_path = run_dir / "data.json"
        spec.write_text(json.dumps({"users": users, "output": str(data_path)}))
        run_checked([python, str(Path(__file__).resolve()), "setup", str(spec)], env, "the setup")
        data = DataSet.load(data_path)
        redis_description = None
        redis: RedisServer | None = None
        if args.redis:
            redis = stack.enter_context(redis_server(run_dir / "redis.log", args.port))
            env = base_env(database_url, [f"REDIS_URL={redis.url}", *args.env])
            redis_description = redis_version()
        port = free_port(args.port)
        layout = dataclasses.replace(
            layouts(["uvicorn"], 1, port)[0], description="uvicorn, ASGI (config.asgi), one process"
        )
        log_path = run_dir / "uvicorn.log"
        pid = stack.enter_context(server(layout, env, port, log_path))
        processes = len(descendants(pid))
        if processes != 1:
            raise BenchError(f"the server runs {processes} processes; this benchmark wants one.")
        sampler = stack.enter_context(RssSampler(pid))
        result = uvloop.run(measure(settings, data, port, pid, sampler))
        result["memory"]["max_rss_mb_by_phase"] = {
            label: round(value, 1) for label, value in sampler.max_process.items()
        }
        if redis is not None:
            result["celery_tasks_left_in_redis"] = redis.pending_tasks()
        log_problems = server_log_problems(log_path)
        server_command = shlex.join([rel(Path(layout.command[0])), *layout.command[1:]])
    command = (
        f"make bench-ws CLIENTS={args.clients} DB={args.db} DURATION={args.duration:g} "
        f"RATE={args.rate:g}"
        + (f" USERS={users}" if args.users else "")
        + (" REDIS=1" if args.redis else "")
        + (f" COMPRESSION={args.compression}" if args.compression != "deflate" else "")
        + (f' BENCH_ENV="{" ".join(args.env)}"' if args.env else "")
    )
    report: dict[str, Any] = {
        "meta": {
            "clients": args.clients,
            "users": users,
            "clients_per_user": f"{args.clients / users:g}",
            "conversations": len(data.conversations),
            "db": args.db,
            "channel_layer": "Redis (channels_redis pubsub)" if args.redis else "in-memory",
            **run_meta(
                started_at,
                command,
                ["django", "channels", "channels-redis", "uvicorn", "websockets"],
            ),
            "redis": redis_description,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "server_command": server_command,
            "rate": args.rate,
            "duration_s": args.duration,
            "drivers": args.drivers,
            "compression": args.compression,
            "seed": settings.seed,
            "open_file_limit": files,
            "extra_env": args.env,
            "logs": rel(run_dir),
        },
        "result": result,
        "server_log_problems": log_problems[:50],
    }
    report["targets"] = targets(result)
    mode = "-redis" if args.redis else ""
    save_results(f"{stamp}-ws-{args.clients}-{args.db}{mode}", report, markdown(report))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="the benchmark (builds its own data set)")
    run.add_argument("--clients", type=int, default=1000, help="WebSockets to open")
    run.add_argument(
        "--users",
        type=int,
        default=0,
        help="users the clients are spread over (default: one per client; at least "
        "clients / REALTIME_MAX_CONNECTIONS_PER_USER)",
    )
    run.add_argument("--db", choices=DATABASES, default="sqlite")
    run.add_argument(
        "--redis",
        action="store_true",
        help="the Redis channel layer: a throwaway redis-server, REDIS_URL for the server",
    )
    run.add_argument("--duration", type=float, default=30.0, help="seconds of write load")
    run.add_argument("--rate", type=float, default=100.0, help="writes per second, all kinds")
    run.add_argument("--drivers", type=int, default=8, help="driver threads (HTTP connections)")
    run.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="what the clients offer: permessage-deflate, as browsers do, or nothing",
    )
    run.add_argument("--seed", type=int, default=None, help="seed of the writes' random choices")
    run.add_argument("--port", type=int, default=FIRST_PORT, help="first port to try")
    run.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server and manage.py (repeatable)",
    )
    setup = commands.add_parser("setup", help=argparse.SUPPRESS)
    setup.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.port <= 8500:
            parser.error("--port must be above 8500")
        if args.clients < 1 or args.rate <= 0 or args.duration <= 0 or args.drivers < 1:
            parser.error("--clients, --rate, --duration and --drivers must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "setup":
        setup_main(args.spec)
        return 0
    return run_until_done(command_run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
