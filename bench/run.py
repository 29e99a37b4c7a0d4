"""Plaza's load benchmark: `make bench` and `make bench-data` call this (see bench/README.md).

    python bench/run.py data --size small --db sqlite      build .tmp/bench/small.sqlite3
    python bench/run.py run --size small --db sqlite       benchmark it (building it if missing)
    python bench/run.py run --size small --db postgres     throwaway cluster: build, bench, stop

A run starts Plaza the way production does (DEBUG off, SECRET_KEY from .env, several worker
processes on loopback), in each server layout in turn, and drives every endpoint with wrk for a
fixed time. Before the load, the SQL queries of one request to each endpoint are counted
in-process (Django's test client under CaptureQueriesContext, same headers, same database).
Results: a table on stdout and bench/results/<timestamp>-<size>-<db>.{json,md}.

Standard library only: the `probe` subcommand, run in a child process with the project's
virtualenv, is the one part that imports Django.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
LUA_DIR = ROOT / "bench" / "lua"
RESULTS_DIR = ROOT / "bench" / "results"
WORK_DIR = ROOT / ".tmp" / "bench"
VENV_BIN = Path(sys.prefix) / "bin"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"

SIZES = ("small", "medium", "large")
DATABASES = ("sqlite", "postgres")
SERVERS = ("uvicorn", "gunicorn")
DEEP_PAGES = 50
FIRST_PORT = 8101  # loopback ports below this belong to others on shared machines
HEALTH_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 300.0  # the longest wait for the worker to run the fan-out left queued
RSS_SAMPLE_INTERVAL_S = 0.25
PROBE_MARKER = "PLAZA_PROBE_RESULT "
FANOUT_MARKER = "PLAZA_FANOUT_RESULT "
CELERY_QUEUE = "celery"  # Celery's default queue: a Redis list of that name
CELERY_UNACKED = "unacked"  # kombu's Redis hash of delivered, unacknowledged messages
WORKER_POOLS = ("prefork", "solo")
WRK_MARKER = "PLAZA_WRK_RESULT "

# Targets from the issue, checked in every report.
TARGET_SINGLE_CLIENT_P99_MS = 50.0
TARGET_FEED_RATIO = 0.30
TARGET_DEEP_VS_FIRST = 0.80
TARGET_RSS_MB = 300.0
TARGET_FANOUT_S = 10.0  # a post by an account with 50,000 followers, one worker
TARGET_VISIBILITY_MS = 2000.0  # p99 from an ordinary account's post to its followers' feeds
FANOUT_TIMEOUT_S = 120.0  # a post not in a timeline by then counts as never delivered


class BenchError(Exception):
    """A problem the user can fix; printed without a traceback."""


def say(message: str) -> None:
    print(message, flush=True)


# --- Endpoints ------------------------------------------------------------------------------


@dataclass
class Endpoint:
    key: str
    label: str
    method: str
    path: str  # the URL path wrk requests (the like script builds its own per request)
    script: str  # file in bench/lua/
    token: str | None = None  # sent as "Authorization: Token ..." by -H (GET endpoints)
    script_args: list[str] = field(default_factory=list)
    connections: int | None = None  # None: the run's --connections
    queries_from: str | None = None  # same request as another endpoint: reuse its count


@dataclass
class Tokens:
    size: str
    viewer_username: str
    viewer_token: str
    users: list[tuple[str, str]]
    post_ids: list[str]

    @classmethod
    def load(cls, path: Path) -> Tokens:
        try:
            raw = json.loads(path.read_text())
            tokens = cls(
                size=str(raw.get("size", "")),
                viewer_username=raw["viewer"]["username"],
                viewer_token=raw["viewer"]["token"],
                users=[(user["username"], user["token"]) for user in raw["users"]],
                post_ids=[str(post_id) for post_id in raw["post_ids"]],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"cannot read the tokens file {path}: {exc!r}") from exc
        if not tokens.users or not tokens.post_ids:
            raise BenchError(f"{path} lists no users or no post ids.")
        return tokens


ENDPOINT_KEYS = (
    "health",
    "feed",
    "feed_deep",
    "posts",
    "notifications",
    "user",
    "feed_1conn",
    "post_create",
    "like",
)


def build_endpoints(
    tokens: Tokens, celebrity: str, deep_path: str, deep_pages: int, lists: dict[str, str]
) -> list[Endpoint]:
    """Every endpoint in run order: reads first, writes last (they add rows the reads see)."""
    viewer = tokens.viewer_token
    return [
        Endpoint("health", "GET /api/health/", "GET", "/api/health/", "get.lua"),
        Endpoint("feed", "GET /api/feed/", "GET", "/api/feed/", "get.lua", viewer),
        Endpoint(
            "feed_deep",
            f"GET /api/feed/ ({deep_pages} pages deep)",
            "GET",
            deep_path,
            "get.lua",
            viewer,
        ),
        Endpoint("posts", "GET /api/posts/", "GET", "/api/posts/", "get.lua", viewer),
        Endpoint(
            "notifications",
            "GET /api/notifications/",
            "GET",
            "/api/notifications/",
            "get.lua",
            viewer,
        ),
        Endpoint(
            "user",
            f"GET /api/users/{celebrity}/",
            "GET",
            f"/api/users/{celebrity}/",
            "get.lua",
            viewer,
        ),
        Endpoint(
            "feed_1conn",
            "GET /api/feed/ (1 connection)",
            "GET",
            "/api/feed/",
            "get.lua",
            viewer,
            connections=1,
            queries_from="feed",
        ),
        Endpoint(
            "post_create",
            "POST /api/posts/",
            "POST",
            "/api/posts/",
            "post_create.lua",
            script_args=[lists["user_tokens"]],
        ),
        Endpoint(
            "like",
            "POST /api/posts/{id}/like/",
            "POST",
            "/api/posts/",
            "like.lua",
            script_args=[lists["user_tokens"], lists["post_ids"]],
        ),
    ]


# --- The in-process probe (runs in a child process, imports Django) -------------------------


def probe_main(spec_path: Path) -> None:
    """Find the celebrity and the deep feed page, count each endpoint's queries, describe the
    data set. Prints one JSON line for the parent."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()

    from django.apps import apps
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from plaza.feed.timelines import timeline_store

    spec = json.loads(spec_path.read_text())
    tokens = Tokens.load(Path(spec["tokens_file"]))
    client = Client(HTTP_HOST="127.0.0.1")

    def auth(token: str | None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}

    # The feed, walked page by page through its cursor as a client would.
    deep_path, depth = "/api/feed/", 0
    for _ in range(spec["deep_pages"]):
        response = client.get(deep_path, **auth(tokens.viewer_token))  # type: ignore[arg-type]
        if response.status_code != 200:
            raise SystemExit(
                f"GET {deep_path} as {tokens.viewer_username} answered "
                f"{response.status_code}: {response.content[:300]!r}. Does the tokens file "
                "belong to this database?"
            )
        next_url = response.json().get("next")
        if not next_url:
            break
        parts = urllib.parse.urlsplit(next_url)
        deep_path = parts.path + ("?" + parts.query if parts.query else "")
        depth += 1

    user_model = apps.get_model("accounts", "User")
    celebrity = (
        user_model.objects.order_by("-followers_count").values_list("username", flat=True).first()
    ) or tokens.viewer_username

    def call(path: str, token: str | None, body: dict[str, str] | None) -> Any:
        if body is None:
            return client.get(path, **auth(token))  # type: ignore[arg-type]
        return client.post(path, body, content_type="application/json", **auth(token))  # type: ignore[arg-type]

    lists = {"user_tokens": "", "post_ids": ""}
    endpoints = build_endpoints(tokens, celebrity, deep_path, depth, lists)
    rng = random.Random()
    measured: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        if endpoint.queries_from:
            continue
        calls: list[tuple[str, str | None, dict[str, str] | None]]
        if endpoint.key == "post_create":
            calls = [
                (
                    "/api/posts/",
                    token,
                    {"title": "Query count probe", "content": "Counting this request's SQL."},
                )
                for _, token in rng.sample(tokens.users, min(8, len(tokens.users)))
            ]
        elif endpoint.key == "like":
            calls = [
                (f"/api/posts/{rng.choice(tokens.post_ids)}/like/", rng.choice(tokens.users)[1], {})
                for _ in range(8)
            ]
        else:
            calls = [(endpoint.path, endpoint.token, None)] * 2

        call(*calls[0])  # warm: first-use costs, a token's hourly last-used write
        for path, token, body in calls[1:]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = call(path, token, body)
                elapsed_ms = (time.perf_counter() - started) * 1000
            # A like that already existed takes the cheaper path: count a new one if we can.
            if endpoint.key == "like" and response.status_code == 200:
                continue
            break
        measured[endpoint.key] = {
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "in_process_ms": round(elapsed_ms, 2),
            "sql": [query["sql"][:2000] for query in captured.captured_queries],
        }

    dataset: dict[str, Any] = {"vendor": connection.vendor}
    for label, (app, model) in {
        "users": ("accounts", "User"),
        "posts": ("posts", "Post"),
        "comments": ("posts", "Comment"),
        "likes": ("posts", "Like"),
        "follows": ("graph", "Follow"),
        "notifications": ("notifications", "Notification"),
    }.items():
        with contextlib.suppress(LookupError):
            dataset[label] = apps.get_model(app, model).objects.count()
    viewer = user_model.objects.filter(username=tokens.viewer_username).first()
    if viewer is not None:
        dataset["viewer_following"] = getattr(viewer, "following_count", None)
    store = timeline_store()
    if store is not None and viewer is not None:
        # The distributed mode: the feed walk above built the viewer's timeline in Redis.
        found = store.read(viewer.pk, before=None, count=store.size)
        # `read` answers (ids, large accounts), or None when there is no timeline.
        dataset["viewer_timeline_ids"] = None if found is None else len(found[0])
    celebrity_user = user_model.objects.filter(username=celebrity).first()
    dataset["celebrity"] = celebrity
    dataset["celebrity_followers"] = getattr(celebrity_user, "followers_count", None)

    print(
        PROBE_MARKER
        + json.dumps(
            {
                "celebrity": celebrity,
                "deep_path": deep_path,
                "deep_pages": depth,
                "queries": measured,
                "dataset": dataset,
            }
        ),
        flush=True,
    )


# --- Processes ------------------------------------------------------------------------------


def run_checked(command: list[str], env: dict[str, str], what: str) -> None:
    say(f"  $ {shlex.join(command)}")
    result = subprocess.run(command, env=env, cwd=ROOT, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BenchError(f"{what} failed (exit {result.returncode}).")


# A few tokens drive thousands of requests a second: production's rate limits would answer
# 429 within a second. Limits this high still count every request (their cost is measured)
# but never refuse one.
UNREACHED_RATE = "1000000/1m"
RATE_LIMITS = (
    "ANON", "USER", "LOGIN", "SIGNUP", "PASSWORD_RESET", "VERIFICATION_EMAIL", "POSTS",
    "FOLLOWS", "REALTIME_TICKET",
)  # fmt: skip


def base_env(database_url: str, extra: list[str]) -> dict[str, str]:
    """The environment of every child: production settings against the benchmark database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"THROTTLE_{scope}": UNREACHED_RATE for scope in RATE_LIMITS})
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BenchError(f"--env expects NAME=VALUE, got {item!r}.")
        env[name] = value
    return env


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (scripts/postgres.sh), stopped and deleted on exit."""
    cluster_dir = tempfile.mkdtemp(prefix="plaza-bench-pg.")
    say(f"Starting a throwaway PostgreSQL cluster in {cluster_dir}")
    try:
        result = subprocess.run(  # noqa: S603
            [str(POSTGRES_SH), "start", cluster_dir],
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,  # Ctrl-C reaches us, not the server we still have to stop
        )
        if result.returncode != 0:
            raise BenchError(f"PostgreSQL did not start:\n{result.stderr.strip()}")
        yield result.stdout.strip().splitlines()[-1]
    finally:
        say("Stopping the PostgreSQL cluster")
        subprocess.run([str(POSTGRES_SH), "stop", cluster_dir], check=False)  # noqa: S603


def sqlite_paths(size: str) -> tuple[Path, Path]:
    return WORK_DIR / f"{size}.sqlite3", WORK_DIR / f"{size}-sqlite-tokens.json"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def generate(
    size: str, database_url: str, tokens_copy: Path, env_extra: list[str], data_command: str
) -> None:
    """Migrate the (fresh) database, run the generator, keep its tokens file as tokens_copy."""
    env = base_env(database_url, env_extra)
    python = str(VENV_BIN / "python")
    started = time.monotonic()
    say(f"Migrating {redact(database_url)}")
    run_checked([python, "manage.py", "migrate", "--noinput", "--verbosity", "0"], env, "migrate")
    command = (
        shlex.split(data_command)
        if data_command
        else [python, "manage.py", "bench_data", "--size", size]
    )
    say(f"Generating the {size} data set")
    written = WORK_DIR / f"{size}-tokens.json"
    written.unlink(missing_ok=True)
    run_checked(command, env, "the data generator")
    if not written.exists():
        raise BenchError(f"the generator did not write {written}.")
    shutil.copyfile(written, tokens_copy)
    say(f"Data set ready in {time.monotonic() - started:.0f} s; tokens in {rel(tokens_copy)}")


def redact(database_url: str) -> str:
    parts = urllib.parse.urlsplit(database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return database_url


def rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def free_port(start: int) -> int:
    for port in range(start, start + 500):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free loopback port in {start}..{start + 499}.")


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples the RSS of a server's processes in a thread; keeps the maximum per label."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.label = "startup"
        self.max_process: dict[str, float] = {}
        self.max_total: dict[str, float] = {}
        # Anonymous (private) memory alone: VmRSS also counts pages of files the process has
        # mapped, such as SQLite's memory-mapped database (PRAGMA mmap_size), which the kernel
        # shares between processes and can drop at will.
        self.max_process_anon: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = descendants(self.pid)
            sizes = [size for pid in pids if (size := rss_mb(pid)) is not None]
            if sizes:
                label = self.label
                self.max_process[label] = max(self.max_process.get(label, 0.0), max(sizes))
                self.max_total[label] = max(self.max_total.get(label, 0.0), sum(sizes))
                anon = [size for pid in pids if (size := rss_mb(pid, "RssAnon")) is not None]
                self.max_process_anon[label] = max(
                    self.max_process_anon.get(label, 0.0), max(anon, default=0.0)
                )
            self._stop.wait(RSS_SAMPLE_INTERVAL_S)


def set_label(samplers: list[RssSampler], label: str) -> None:
    for sampler in samplers:
        sampler.label = label


@dataclass
class Layout:
    name: str
    description: str
    command: list[str]


def layouts(names: list[str], workers: int, port: int) -> list[Layout]:
    bind = ["127.0.0.1", str(port)]
    known = {
        "uvicorn": Layout(
            "uvicorn",
            f"uvicorn, ASGI (config.asgi), {workers} worker processes",
            [
                str(VENV_BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                bind[0],
                "--port",
                bind[1],
                "--workers",
                str(workers),
                "--lifespan",
                "off",
                "--ws-per-message-deflate",  # as config.serve (make run) serves it
                "false",
                "--no-proxy-headers",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        ),
        "gunicorn": Layout(
            "gunicorn",
            f"gunicorn, WSGI (config.wsgi), {workers} sync worker processes",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                ":".join(bind),
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--log-level",
                "warning",
            ],
        ),
    }
    return [known[name] for name in names]


def start_logged(
    command: list[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own process group (so stopping the group stops all
    its children), with its output in `log_path`."""
    with log_path.open("w") as log:
        return subprocess.Popen(  # noqa: S603 - our own commands
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@contextlib.contextmanager
def server(layout: Layout, env: dict[str, str], port: int, log_path: Path) -> Iterator[int]:
    """Start a server layout in its own process group; yield its PID; kill the group on exit."""
    say(f"Starting {layout.description} on 127.0.0.1:{port}")
    process = start_logged(layout.command, env, log_path)
    try:
        wait_for_health(process, port, log_path)
        yield process.pid
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (its PID), then SIGKILL whatever is left of it."""
    pgid = process.pid  # start_new_session: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def wait_for_health(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    url = f"http://127.0.0.1:{port}/api/health/"
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"the server exited with {process.returncode} before answering; its log "
                f"({rel(log_path)}) ends with:\n{tail(log_path)}"
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {HEALTH_TIMEOUT_S:.0f} s.\n{tail(log_path)}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def preflight(port: int, endpoint: Endpoint) -> str | None:
    """One GET through the real server; a problem's description, or None if it answered 2xx."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{endpoint.path}")
    if endpoint.token:
        request.add_header("Authorization", f"Token {endpoint.token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return None if 200 <= response.status < 300 else f"answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"answered {exc.code}: {exc.read()[:200]!r}"
    except OSError as exc:
        return f"failed: {exc}"


# --- The distributed mode: a throwaway Redis and one Celery worker --------------------------


def redis_call(port: int, *args: str) -> Any:
    """One command to a Redis server on loopback, spoken in its wire protocol (RESP2), so
    this file needs no client library."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(arg.encode())}\r\n".encode() + arg.encode() + b"\r\n" for arg in args
    )
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        sock.makefile("rb") as stream,
    ):
        sock.sendall(payload)
        return _redis_reply(stream)


def _redis_reply(stream: BinaryIO) -> Any:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise OSError(f"Redis answered an error: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        return None if length < 0 else stream.read(length + 2)[:-2].decode(errors="replace")
    if kind == b"*":
        length = int(rest)
        return None if length < 0 else [_redis_reply(stream) for _ in range(length)]
    raise OSError(f"unexpected reply from Redis: {line[:80]!r}")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def call(self, *args: str) -> Any:
        return redis_call(self.port, *args)

    def pending_tasks(self) -> int:
        """Tasks queued or being run: Celery's queue list, plus kombu's hash of messages
        delivered but not yet acknowledged (the settings acknowledge after the task)."""
        return int(self.call("LLEN", CELERY_QUEUE)) + int(self.call("HLEN", CELERY_UNACKED))

    def used_memory_mb(self) -> float:
        for line in str(self.call("INFO", "memory")).splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":", 1)[1]) / 2**20
        return 0.0


@contextlib.contextmanager
def redis_server(log_path: Path, first_port: int) -> Iterator[RedisServer]:
    """A throwaway redis-server on loopback (no persistence, data in a temporary directory),
    as scripts/with-redis.sh starts it; stopped by its PID and its directory deleted on exit,
    failure or Ctrl-C."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise BenchError("the distributed mode needs redis-server: apt-get install redis-server")
    data_dir = Path(tempfile.mkdtemp(prefix="plaza-bench-redis."))
    process: subprocess.Popen[bytes] | None = None
    try:
        port = first_port
        for _attempt in range(5):  # a port free now may be taken before Redis binds it
            port = free_port(port)
            process = subprocess.Popen(  # noqa: S603
                [
                    executable,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(data_dir),
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "yes",
                    "--logfile",
                    str(log_path),
                ],
                cwd=data_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop it
            )
            if wait_for_redis(process, port):
                break
            stop_group(process)
            process = None
            port += 1
        if process is None:
            raise BenchError(f"redis-server did not start; its log:\n{tail(log_path)}")
        say(f"Started a throwaway Redis on 127.0.0.1:{port} (pid {process.pid})")
        yield RedisServer(port, process)
    finally:
        if process is not None:
            say("Stopping Redis")
            stop_group(process)
        shutil.rmtree(data_dir, ignore_errors=True)


def wait_for_redis(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            if redis_call(port, "PING") == "PONG":
                return True
        time.sleep(0.05)
    return False


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    description: str
    command: list[str]
    log_path: Path

    def errors(self) -> int:
        """Lines the worker logged at ERROR or CRITICAL (a task that raised, a lost
        connection): each one is a fan-out that may not have happened."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if "ERROR/" in line or "CRITICAL/" in line)


@contextlib.contextmanager
def celery_worker(
    env: dict[str, str], log_path: Path, redis: RedisServer, pool: str, concurrency: int
) -> Iterator[Worker]:
    """One Celery worker (`celery -A config worker`) in its own process group, consuming from
    the benchmark's Redis; its group is stopped at the end."""
    command = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "warning",
        # No cluster chatter: one worker, and nothing to synchronise with at startup.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname",
        f"bench{redis.port}@%h",
    ]
    description = f"one Celery worker ({pool} pool, concurrency {concurrency})"
    say(f"Starting {description}")
    process = start_logged(command, env, log_path)
    try:
        wait_for_worker(process, redis, log_path)
        yield Worker(process, description, command, log_path)
    finally:
        stop_group(process)


def wait_for_worker(process: subprocess.Popen[bytes], redis: RedisServer, log_path: Path) -> None:
    """Until the worker waits on its queue: kombu's Redis transport blocks in BRPOP there."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"the Celery worker exited with {process.returncode}; its log "
                f"({rel(log_path)}) ends with:\n{tail(log_path)}"
            )
        if "cmd=brpop" in str(redis.call("CLIENT", "LIST")):
            return
        time.sleep(0.2)
    raise BenchError(f"the Celery worker did not start consuming within {HEALTH_TIMEOUT_S:.0f} s.")


def wait_for_tasks(redis: RedisServer, timeout: float) -> tuple[int, float, bool]:
    """Wait until the worker has run every queued task: (tasks pending at the start, seconds
    waited, whether the queue emptied in time)."""
    started = time.monotonic()
    pending = first = redis.pending_tasks()
    while pending and time.monotonic() - started < timeout:
        time.sleep(0.1)
        pending = redis.pending_tasks()
    return first, time.monotonic() - started, pending == 0


# --- wrk ------------------------------------------------------------------------------------


def redis_version() -> str:
    result = subprocess.run(  # noqa: S603
        [shutil.which("redis-server") or "redis-server", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    words = result.stdout.split()
    version = next((w[2:] for w in words if w.startswith("v=")), "")
    return f"Redis {version}".strip()


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    output = (result.stdout or result.stderr).strip().splitlines()
    return output[0].split(" Copyright")[0] if output else "unknown"


def run_wrk(
    endpoint: Endpoint, port: int, duration: int, threads: int, connections: int, seed: int
) -> dict[str, Any]:
    connections = endpoint.connections or connections
    command = [
        "wrk",
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        "--latency",
        f"--script={LUA_DIR / endpoint.script}",
    ]
    if endpoint.token:
        command += ["--header", f"Authorization: Token {endpoint.token}"]
    command.append(f"http://127.0.0.1:{port}{endpoint.path}")
    command += ["--", *endpoint.script_args, str(seed)]
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, timeout=duration + 60
    )
    for line in result.stdout.splitlines():
        if line.startswith(WRK_MARKER):
            parsed: dict[str, Any] = json.loads(line[len(WRK_MARKER) :])
            parsed["connections"] = connections
            return parsed
    raise BenchError(
        f"wrk printed no result for {endpoint.label} (exit {result.returncode}):\n"
        f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )


# --- Results --------------------------------------------------------------------------------


@dataclass
class EndpointResult:
    key: str
    label: str
    connections: int
    requests_per_s: float
    ratio_to_health: float | None
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors_status: int
    errors_socket: int
    statuses: dict[str, int]
    queries: int | None
    max_process_rss_mb: float | None
    preflight_problem: str | None = None
    tasks_pending_after: int | None = None  # distributed mode: fan-out tasks not yet run


def summarize(endpoint: Endpoint, raw: dict[str, Any], queries: int | None) -> EndpointResult:
    latency = raw["latency_us"]
    percentiles = latency["percentiles"]
    errors = raw["errors"]
    seconds = raw["duration_us"] / 1e6
    return EndpointResult(
        key=endpoint.key,
        label=endpoint.label,
        connections=raw["connections"],
        requests_per_s=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        ratio_to_health=None,
        p50_ms=round(percentiles["50"] / 1000, 2),
        p90_ms=round(percentiles["90"] / 1000, 2),
        p99_ms=round(percentiles["99"] / 1000, 2),
        max_ms=round(latency["max"] / 1000, 2),
        requests=raw["requests"],
        errors_status=errors["status"],
        errors_socket=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        statuses=raw["statuses"],
        queries=queries,
        max_process_rss_mb=None,
    )


def format_errors(result: EndpointResult) -> str:
    parts = []
    failing = {code: n for code, n in result.statuses.items() if not 200 <= int(code) < 400}
    if failing:
        parts.append(" ".join(f"{code}x{n}" for code, n in sorted(failing.items())))
    elif result.errors_status:
        parts.append(f"{result.errors_status} status")
    if result.errors_socket:
        parts.append(f"{result.errors_socket} socket")
    return ", ".join(parts) or "0"


def table(results: list[EndpointResult]) -> list[str]:
    rows = [
        "| endpoint | conns | req/s | vs health | p50 ms | p99 ms | errors | SQL/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for result in results:
        ratio = f"{result.ratio_to_health:.2f}" if result.ratio_to_health is not None else "-"
        queries = str(result.queries) if result.queries is not None else "?"
        rows.append(
            f"| {result.label} | {result.connections} | {result.requests_per_s:,.0f} | {ratio} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {format_errors(result)} "
            f"| {queries} |"
        )
    return rows


def target_checks(
    results: list[EndpointResult], max_rss: float | None, worker: dict[str, Any] | None = None
) -> list[str]:
    by_key = {result.key: result for result in results}
    checks = []

    def check(ok: bool, text: str) -> None:
        checks.append(f"- {'met' if ok else 'NOT met'}: {text}")

    if "feed_1conn" in by_key:
        p99 = by_key["feed_1conn"].p99_ms
        check(
            p99 < TARGET_SINGLE_CLIENT_P99_MS,
            f"feed p99 with one client {p99:.1f} ms (target < {TARGET_SINGLE_CLIENT_P99_MS:.0f})",
        )
    feed = by_key.get("feed")
    if feed is not None and feed.ratio_to_health is not None:
        check(
            feed.ratio_to_health >= TARGET_FEED_RATIO,
            f"feed throughput {feed.ratio_to_health:.2f} of health "
            f"(target >= {TARGET_FEED_RATIO:.2f})",
        )
    deep = by_key.get("feed_deep")
    if feed is not None and deep is not None and feed.requests_per_s:
        ratio = deep.requests_per_s / feed.requests_per_s
        check(
            ratio >= TARGET_DEEP_VS_FIRST,
            f"deep feed page at {ratio:.2f} of the first page's throughput "
            f"(target >= {TARGET_DEEP_VS_FIRST:.2f})",
        )
    if max_rss is not None:
        check(
            max_rss < TARGET_RSS_MB,
            f"largest server process {max_rss:.0f} MB RSS (target < {TARGET_RSS_MB:.0f})",
        )
    if worker is not None:
        check(
            worker["max_process_rss_mb"] < TARGET_RSS_MB,
            f"largest Celery worker process {worker['max_process_rss_mb']:.0f} MB RSS, "
            f"{worker['max_process_anon_mb']:.0f} MB of it anonymous (target < "
            f"{TARGET_RSS_MB:.0f})",
        )
    return checks


def run_meta(started_at: datetime, command: str, packages: list[str]) -> dict[str, Any]:
    """What every report says about where and how it was measured: the command, the commit,
    the machine, and the versions of `packages` (keyed by name, dashes as underscores)."""
    return {
        "started_at": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_describe(),
        "python": platform.python_version(),
        **{name.replace("-", "_"): package_version(name) for name in packages},
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
    }


def git_describe() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_report(report: dict[str, Any]) -> str:
    meta = report["meta"]
    dataset = report["dataset"]
    distributed = meta.get("distributed")
    mode = ", distributed mode (Redis + Celery)" if distributed else ""
    lines = [
        f"# Plaza benchmark: {meta['size']} on {meta['db']}{mode}, {meta['started_at']}",
        "",
        f"`{meta['command']}`",
        "",
        f"- commit {meta['commit']}; Python {meta['python']}, Django {meta['django']}; "
        f"{meta['cpus']} CPUs ({meta['cpu_model']}); {meta['wrk']}",
        f"- wrk: {meta['duration_s']} s per endpoint, {meta['threads']} threads, "
        f"{meta['connections']} connections; load average before the run "
        f"{meta['load_average_before']} (1 min)",
        "- data: "
        + ", ".join(
            f"{dataset[key]:,} {key}"
            for key in ("users", "posts", "follows", "likes", "comments", "notifications")
            if isinstance(dataset.get(key), int)
        )
        + f"; the viewer follows {number(dataset.get('viewer_following'))}; "
        f"{dataset.get('celebrity')} has {number(dataset.get('celebrity_followers'))} followers",
        f"- deep page: {report['deep_pages']} pages into the viewer's feed",
    ]
    if distributed:
        lines.append(
            f"- distributed mode: `REDIS_URL` set (Redis cache, Celery broker, home timelines in "
            f"Redis), a throwaway {distributed['redis']}, {distributed['worker']} "
            f"(Celery {distributed['celery']}); the viewer's timeline held "
            f"{number(distributed['feed_timeline_ids'])} post ids when the load began (built "
            "by the probe's first feed request); pages past it continue from SQL"
        )
    else:
        lines.append("- embedded mode: no `REDIS_URL` (local-memory cache, feed from SQL)")
    for layout in report["layouts"]:
        results = [EndpointResult(**item) for item in layout["endpoints"]]
        lines += ["", f"## {layout['description']}", "", *table(results), ""]
        lines.append(
            f"Largest server process: {layout['max_process_rss_mb']:.0f} MB RSS; all of its "
            f"processes together: {layout['max_total_rss_mb']:.0f} MB (maxima over the run)."
            + (
                f" Anonymous memory alone (RSS less mapped files such as SQLite's mmap): "
                f"{layout['max_process_anon_mb']:.0f} MB."
                if layout.get("max_process_anon_mb") is not None
                else ""
            )
        )
        worker = layout.get("worker")
        if worker:
            backlog = next((r.tasks_pending_after for r in results if r.key == "post_create"), None)
            lines.append(
                f"Celery worker: largest process {worker['max_process_rss_mb']:.0f} MB RSS "
                f"({worker['max_process_anon_mb']:.0f} MB anonymous), all of its processes "
                f"{worker['max_total_rss_mb']:.0f} MB. "
                + (
                    f"Fan-out tasks still queued when the `POST /api/posts/` load ended: "
                    f"{backlog:,}; "
                    if backlog is not None
                    else ""
                )
                + f"after the last endpoint the worker needed {worker['drain_s']:.1f} s to run "
                f"the {worker['tasks_pending_after_load']:,} left"
                + ("" if worker["drained"] else " and did NOT finish")
                + f"; {worker['errors_logged']} errors in its log."
            )
        like = next((r for r in results if r.key == "like"), None)
        if like is not None and like.requests:
            new = like.statuses.get("201", 0)
            lines.append(
                f"Likes: {new / like.requests:.0%} were new (201), "
                f"{like.statuses.get('200', 0)} had been liked before (200)."
            )
        lines += ["", "Targets:", *layout["targets"]]
    return "\n".join(lines) + "\n"


# --- The fan-out benchmark (`run.py fanout`) ------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def fanout_probe_main(spec_path: Path) -> None:
    """The measuring side of `run.py fanout`, in a child process with Django and redis-py:
    creates posts through the running server and watches followers' timelines in Redis.
    Prints one JSON line for the parent."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()

    from django.conf import settings

    from plaza.accounts.models import User
    from plaza.core.redis import redis_client
    from plaza.feed.tasks import _follower_batches
    from plaza.feed.timelines import _key, _member, timeline_store

    spec = json.loads(spec_path.read_text())
    tokens = json.loads(Path(spec["tokens_file"]).read_text())
    store, client = timeline_store(), redis_client()
    if store is None or client is None:
        raise SystemExit("fanout: REDIS_URL is not set, or FEED_TIMELINES is off.")
    base_url = f"http://127.0.0.1:{spec['port']}"
    counter = 0

    def note(message: str) -> None:
        print(message, flush=True)

    def followers_in_fanout_order(user_id: int) -> list[int]:
        # The fan-out task's own query, so the last id here is the last timeline it fills.
        return [follower for batch in _follower_batches(user_id) for follower in batch]

    def build_empty(user_ids: list[int]) -> float:
        """Make these timelines exist, empty: fan-out only pushes into existing ones.
        (Rebuilding each from SQL, as a reader's first request does, is not what is measured
        here, and would take minutes for 50,000+ users.)"""
        started = time.perf_counter()
        for user_id in user_ids:
            store.build(user_id, [])
        return time.perf_counter() - started

    def idle(timeout: float = DRAIN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while client.llen(CELERY_QUEUE) + client.hlen(CELERY_UNACKED) > 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"fanout: the worker did not empty its queue in {timeout} s.")
            time.sleep(0.05)

    def create_post(token: str) -> tuple[int, float, float]:
        """POST /api/posts/ through the server: (post id, sent at, 201 received at)."""
        nonlocal counter
        counter += 1
        body = json.dumps(
            {
                "title": f"Fan-out benchmark post {counter}",
                "content": "Written by bench/run.py fanout to time its way into timelines.",
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL built above
            f"{base_url}/api/posts/",
            data=body,
            method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        sent = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            payload = json.loads(response.read())
            status = response.status
        answered = time.perf_counter()
        if status != 201:
            raise SystemExit(f"fanout: POST /api/posts/ answered {status}: {payload!r}")
        return int(payload["id"]), sent, answered

    def present(pairs: list[tuple[int, int]]) -> list[bool]:
        """Whether each (user id, post id) is in that user's timeline: one round trip."""
        pipe = client.pipeline(transaction=False)
        for user_id, post_id in pairs:
            pipe.zscore(_key(user_id), _member(post_id))
        return [score is not None for score in pipe.execute()]

    with RssSampler(spec["worker_pid"]) as worker_rss:
        # Warm-up: the worker's first task pays for imports and its database connection.
        worker_rss.label = "warmup"
        sample = tokens["users"]
        ids = dict(
            User.objects.filter(username__in=[u["username"] for u in sample]).values_list(
                "username", "id"
            )
        )
        authors: list[dict[str, Any]] = []
        for user in sample:
            followers = followers_in_fanout_order(ids[user["username"]])
            if followers:
                authors.append({**user, "id": ids[user["username"]], "followers": followers})
            if len(authors) == spec["authors"]:
                break
        if not authors:
            raise SystemExit("fanout: no sample user in the tokens file has followers.")
        warm = authors[0]
        build_empty([warm["followers"][-1]])
        idle()
        post_id, _sent, answered = create_post(warm["token"])
        while not present([(warm["followers"][-1], post_id)])[0]:
            if time.perf_counter() - answered > 60:
                raise SystemExit("fanout: the warm-up post reached no timeline in 60 s.")
            time.sleep(0.005)
        warmup_s = time.perf_counter() - answered
        note(f"  warm-up post visible after {warmup_s * 1000:.0f} ms")

        # (a) The most-followed account's post, fanned out to every follower.
        worker_rss.label = "celebrity"
        top = User.objects.order_by("-followers_count").values("username", "followers_count")[0]
        with_token = {c["username"]: c["token"] for c in tokens.get("celebrities", [])}
        if not with_token:
            raise SystemExit(f"fanout: {spec['tokens_file']} lists no celebrities with tokens.")
        candidates = User.objects.filter(username__in=with_token).order_by("-followers_count")
        if spec["celebrity"]:
            candidates = candidates.filter(username=spec["celebrity"])
            if not candidates:
                raise SystemExit(f"fanout: no token for {spec['celebrity']!r} in the tokens file.")
        celebrity = candidates[0]
        if celebrity.username != top["username"] and not spec["celebrity"]:
            note(
                f"  note: {top['username']} has the most followers ({top['followers_count']:,}) "
                f"but no token; using {celebrity.username}"
            )
        if celebrity.followers_count >= settings.FEED_FANOUT_MAX_FOLLOWERS:
            raise SystemExit(
                f"fanout: FEED_FANOUT_MAX_FOLLOWERS={settings.FEED_FANOUT_MAX_FOLLOWERS} would "
                f"skip {celebrity.username}'s {celebrity.followers_count:,} followers."
            )
        followers = followers_in_fanout_order(celebrity.pk)
        note(
            f"Creating {len(followers) + 1:,} empty timelines ({celebrity.username}'s followers "
            "and their own) with TimelineStore.build(user_id, [])"
        )
        build_s = build_empty([*followers, celebrity.pk])
        note(f"  done in {build_s:.1f} s")
        first, last = followers[0], followers[-1]
        runs = []
        for index in range(spec["celebrity_posts"]):
            idle()
            post_id, sent, answered = create_post(with_token[celebrity.username])
            first_at = last_at = None
            deadline = answered + FANOUT_TIMEOUT_S
            while last_at is None and time.perf_counter() < deadline:
                first_seen, last_seen = present([(first, post_id), (last, post_id)])
                now = time.perf_counter()
                if first_seen and first_at is None:
                    first_at = now
                if last_seen:
                    last_at = now
                else:
                    time.sleep(0.002)
            # The last follower in the task's order has it: check every follower, in
            # pipelined chunks, and keep polling any the order did not predict.
            missing, complete_at = list(followers), last_at
            while missing and time.perf_counter() < deadline:
                still = []
                for start in range(0, len(missing), 10_000):
                    chunk = missing[start : start + 10_000]
                    flags = present([(follower, post_id) for follower in chunk])
                    still += [f for f, seen in zip(chunk, flags, strict=True) if not seen]
                if still and still != missing:
                    complete_at = None  # the order was wrong: time it by the checks instead
                missing = still
                if missing:
                    time.sleep(0.01)
                elif complete_at is None:
                    complete_at = time.perf_counter()
            seconds = None if complete_at is None or missing else complete_at - answered
            runs.append(
                {
                    "post_id": str(post_id),
                    "api_ms": round((answered - sent) * 1000, 1),
                    "first_follower_s": None if first_at is None else round(first_at - answered, 3),
                    "last_follower_s": None if last_at is None else round(last_at - answered, 3),
                    "seconds": None if seconds is None else round(seconds, 3),
                    "seconds_from_sent": None
                    if seconds is None
                    else round(seconds + answered - sent, 3),
                    "followers_per_s": round(len(followers) / seconds) if seconds else None,
                    "missing": len(missing),
                }
            )
            note(
                f"  post {index + 1}/{spec['celebrity_posts']}: "
                + (
                    f"in all {len(followers):,} timelines {seconds:.2f} s after the 201 "
                    f"({len(followers) / seconds:,.0f} followers/s)"
                    if seconds
                    else f"{len(missing):,} timelines still miss it after {FANOUT_TIMEOUT_S} s"
                )
            )
        celebrity_report = {
            "username": celebrity.username,
            "followers": len(followers),
            "followers_count": celebrity.followers_count,
            "most_followed": top["username"],
            "build_timelines_s": round(build_s, 1),
            "redis_used_memory_mb": round(client.info("memory")["used_memory"] / 2**20, 1),
            "runs": runs,
        }

        # (b) Ordinary accounts posting a few times a second; each post timed into the
        # timeline of its author's last follower (in fan-out order).
        worker_rss.label = "ordinary"
        audience = sorted({f for author in authors for f in author["followers"]})
        note(
            f"Creating {len(audience):,} empty timelines for the followers of "
            f"{len(authors)} ordinary accounts"
        )
        build_empty(audience)
        idle()
        read_load: dict[str, Any] = {}
        wrk_thread = None
        if spec["read_connections"]:
            feed = Endpoint(
                "feed", "GET /api/feed/", "GET", "/api/feed/", "get.lua", tokens["viewer"]["token"]
            )

            def read() -> None:
                read_load.update(
                    run_wrk(
                        feed,
                        spec["port"],
                        math.ceil(spec["duration"]) + 2,
                        2,
                        spec["read_connections"],
                        random.randrange(1 << 30),
                    )
                )

            wrk_thread = threading.Thread(target=read, daemon=True)
            wrk_thread.start()
            time.sleep(1)  # the read load first, then the posts
        total = max(1, round(spec["rate"] * spec["duration"]))
        note(
            f"Posting {total} times as {len(authors)} accounts, {spec['rate']:g} per second"
            + (
                f", under a feed read load of {spec['read_connections']} connections"
                if spec["read_connections"]
                else ""
            )
        )
        lock = threading.Lock()
        pending: dict[int, tuple[int, float]] = {}  # post id -> (follower, 201 received)
        posted: list[dict[str, Any]] = []
        failures: list[str] = []
        posting_done = threading.Event()

        def post_all() -> None:
            try:
                started = time.perf_counter()
                for index in range(total):
                    delay = started + index / spec["rate"] - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    author = authors[index % len(authors)]
                    try:
                        post_id, sent, answered = create_post(author["token"])
                    except (OSError, SystemExit) as exc:
                        failures.append(str(exc))
                        continue
                    follower = author["followers"][-1]
                    with lock:
                        pending[post_id] = (follower, answered)
                        posted.append(
                            {
                                "post_id": post_id,
                                "author": author["username"],
                                "followers": len(author["followers"]),
                                "api_ms": (answered - sent) * 1000,
                                "sent": sent,
                                "answered": answered,
                            }
                        )
            finally:
                posting_done.set()

        poster = threading.Thread(target=post_all, daemon=True)
        poster.start()
        visible_at: dict[int, float] = {}
        while True:
            with lock:
                waiting = list(pending.items())
            if not waiting and posting_done.is_set():
                break
            if waiting:
                flags = present([(follower, post_id) for post_id, (follower, _) in waiting])
                now = time.perf_counter()
                with lock:
                    for (post_id, (_follower, answered)), seen in zip(waiting, flags, strict=True):
                        if seen:
                            visible_at[post_id] = now
                            del pending[post_id]
                        elif now - answered > FANOUT_TIMEOUT_S:
                            del pending[post_id]
            time.sleep(0.002)
        poster.join()
        if wrk_thread is not None:
            wrk_thread.join()
        if not posted:
            raise SystemExit(f"fanout: every post failed, e.g. {failures[0] if failures else '?'}")
        # From the 201 (the post was committed and queued before it): a lower bound, as the
        # fan-out may finish before the response reaches us; from sending the request: an
        # upper bound. The commit-to-visible time lies between the two.
        latencies = [
            (visible_at[p["post_id"]] - p["answered"]) * 1000
            for p in posted
            if p["post_id"] in visible_at
        ]
        from_sent = [
            (visible_at[p["post_id"]] - p["sent"]) * 1000
            for p in posted
            if p["post_id"] in visible_at
        ]
        api = [p["api_ms"] for p in posted]
        span = (max(p["answered"] for p in posted) - min(p["answered"] for p in posted)) or 1.0

        def summary(values: list[float]) -> dict[str, float | None]:
            if not values:
                return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
            return {
                "p50_ms": round(percentile(values, 0.50), 1),
                "p90_ms": round(percentile(values, 0.90), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
            }

        audience_sizes = sorted(len(a["followers"]) for a in authors)
        ordinary_report = {
            "authors": len(authors),
            "followers_median": audience_sizes[len(audience_sizes) // 2],
            "followers_max": audience_sizes[-1],
            "timelines": len(audience),
            "posts": len(posted),
            "failed_posts": len(failures),
            "rate_per_s": round((len(posted) - 1) / span, 2) if len(posted) > 1 else None,
            "visible": len(latencies),
            "visibility": summary(latencies),
            "visibility_from_sent": summary(from_sent),
            "api": summary(api),
            "read_load": None
            if not read_load
            else {
                "connections": spec["read_connections"],
                "requests_per_s": round(read_load["requests"] / (read_load["duration_us"] / 1e6)),
                "p99_ms": round(read_load["latency_us"]["percentiles"]["99"] / 1000, 1),
                "statuses": read_load["statuses"],
            },
        }
        if failures:
            note(f"  {len(failures)} posts failed, e.g. {failures[0]}")
        idle()
    print(
        FANOUT_MARKER
        + json.dumps(
            {
                "warmup_s": round(warmup_s, 3),
                "celebrity": celebrity_report,
                "ordinary": ordinary_report,
                "worker_rss": {
                    label: {
                        "max_process_mb": round(worker_rss.max_process[label], 1),
                        "max_total_mb": round(worker_rss.max_total[label], 1),
                        "max_process_anon_mb": round(worker_rss.max_process_anon[label], 1),
                    }
                    for label in worker_rss.max_process
                },
                "settings": {
                    "FEED_FANOUT_MAX_FOLLOWERS": settings.FEED_FANOUT_MAX_FOLLOWERS,
                    "FEED_FANOUT_BATCH_SIZE": settings.FEED_FANOUT_BATCH_SIZE,
                    "FEED_TIMELINE_SIZE": settings.FEED_TIMELINE_SIZE,
                },
            }
        ),
        flush=True,
    )


def run_child(command: list[str], env: dict[str, str], marker: str) -> dict[str, Any]:
    """Run a child, echoing its output as it comes; return the JSON after `marker`."""
    result: dict[str, Any] | None = None
    process = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE
        for line in process.stdout:
            if line.startswith(marker):
                result = json.loads(line[len(marker) :])
            else:
                say(line.rstrip("\n"))
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or result is None:
        raise BenchError(f"the fan-out probe failed (exit {process.returncode}).")
    return result


def fanout_benchmark(args: argparse.Namespace, database_url: str, tokens_path: Path) -> None:
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"fanout-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(redis_server(run_dir / "redis.log", args.port))
        env = base_env(
            database_url,
            [
                f"REDIS_URL={redis.url}",
                # Above any account's audience: the celebrity's post IS fanned out.
                f"FEED_FANOUT_MAX_FOLLOWERS={args.max_followers}",
                *args.env,
            ],
        )
        worker = stack.enter_context(
            celery_worker(env, run_dir / "celery.log", redis, args.worker_pool, 1)
        )
        port = free_port(args.port)
        layout = layouts([args.server], args.workers, port)[0]
        stack.enter_context(server(layout, env, port, run_dir / f"{args.server}.log"))
        spec_path = run_dir / "fanout.json"
        spec_path.write_text(
            json.dumps(
                {
                    "tokens_file": str(tokens_path),
                    "port": port,
                    "worker_pid": worker.process.pid,
                    "celebrity_posts": args.celebrity_posts,
                    "celebrity": args.celebrity,
                    "authors": args.authors,
                    "rate": args.rate,
                    "duration": args.post_duration,
                    "read_connections": args.read_connections,
                }
            )
        )
        measured = run_child(
            [
                str(VENV_BIN / "python"),
                str(Path(__file__).resolve()),
                "fanout-probe",
                str(spec_path),
            ],
            env,
            FANOUT_MARKER,
        )
        measured["worker_errors_logged"] = worker.errors()
        measured["redis_used_memory_mb_end"] = round(redis.used_memory_mb(), 1)
        description = f"{layout.description}; {worker.description}"
    command = (
        f"make bench-fanout SIZE={args.size} DB={args.db} BENCH_WORKERS={args.workers}"
        + (f" WORKER_POOL={args.worker_pool}" if args.worker_pool != "solo" else "")
        + (f" FANOUT_READ_LOAD={args.read_connections}" if args.read_connections else "")
    )
    report = {
        "meta": {
            "size": args.size,
            "db": args.db,
            **run_meta(started_at, command, ["django", "celery"]),
            "redis": redis_version(),
            "layout": description,
            "extra_env": args.env,
            "load_average_before": round(load_before, 2),
            "rate_per_s": args.rate,
            "post_duration_s": args.post_duration,
        },
        **measured,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    base = RESULTS_DIR / f"{stamp}-{args.size}-{args.db}-fanout"
    Path(f"{base}.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = fanout_markdown(report)
    Path(f"{base}.md").write_text(markdown)
    say("")
    say(markdown)
    say(f"Saved {rel(Path(f'{base}.json'))} and {rel(Path(f'{base}.md'))}")


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fanout_markdown(report: dict[str, Any]) -> str:
    meta, celebrity, ordinary = report["meta"], report["celebrity"], report["ordinary"]
    settings = report["settings"]
    lines = [
        f"# Plaza fan-out benchmark: {meta['size']} on {meta['db']}, {meta['started_at']}",
        "",
        f"`{meta['command']}`",
        "",
        f"- commit {meta['commit']}; Python {meta['python']}, Django {meta['django']}, "
        f"Celery {meta['celery']}, {meta['redis']}; {meta['cpus']} CPUs ({meta['cpu_model']}); "
        f"load average before the run {meta['load_average_before']} (1 min)",
        f"- {meta['layout']}; FEED_FANOUT_MAX_FOLLOWERS={settings['FEED_FANOUT_MAX_FOLLOWERS']:,}"
        f", FEED_FANOUT_BATCH_SIZE={settings['FEED_FANOUT_BATCH_SIZE']:,}, "
        f"FEED_TIMELINE_SIZE={settings['FEED_TIMELINE_SIZE']:,}",
        f"- timings start when the server's 201 for `POST /api/posts/` arrives (the post is "
        f"committed and its fan-out task queued by then) and end when the post id is seen in "
        f"Redis; a warm-up post took {report['warmup_s'] * 1000:.0f} ms",
        "",
        f"## A post by {celebrity['username']}, {celebrity['followers']:,} followers",
        "",
        f"Every follower's timeline was first created empty (`TimelineStore.build(user_id, [])`"
        f", {celebrity['build_timelines_s']:.1f} s; Redis then used "
        f"{celebrity['redis_used_memory_mb']:.0f} MB): fan-out only adds to timelines that "
        "exist.",
        "",
        "Seconds from the 201; the last column counts from sending the request (an upper "
        "bound: the post is committed and its task queued before the response is sent).",
        "",
        "| post | API ms | first follower s | last follower s | all followers s | followers/s "
        "| all, from the request s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    seconds = []
    for index, run in enumerate(celebrity["runs"], 1):
        if run["seconds"] is not None:
            seconds.append(run["seconds"])
        lines.append(
            f"| {index} | {run['api_ms']:.0f} | {secs(run['first_follower_s'])} "
            f"| {secs(run['last_follower_s'])} "
            f"| {secs(run['seconds']) if run['seconds'] is not None else 'not all'} "
            f"| {ms(run['followers_per_s'])} | {secs(run['seconds_from_sent'])} |"
        )
    visibility, api = ordinary["visibility"], ordinary["api"]
    upper = ordinary["visibility_from_sent"]
    read = ordinary["read_load"]
    lines += [
        "",
        f"## Ordinary accounts: {ordinary['posts']} posts by {ordinary['authors']} accounts",
        "",
        f"{ordinary['rate_per_s']} posts/s; the authors have {ordinary['followers_median']} "
        f"followers (median, at most {ordinary['followers_max']}), "
        f"{ordinary['timelines']:,} timelines created empty first. Each post is timed into the "
        "timeline of its author's last follower in fan-out order"
        + (
            f"; meanwhile wrk read the viewer's feed on {read['connections']} connections "
            f"({read['requests_per_s']:,} req/s, p99 {read['p99_ms']} ms)."
            if read
            else "."
        ),
        "",
        "| | posts | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| 201 to visible in the timeline | {ordinary['visible']}/{ordinary['posts']} "
        f"| {ms(visibility['p50_ms'])} | {ms(visibility['p90_ms'])} "
        f"| {ms(visibility['p99_ms'])} | {ms(visibility['max_ms'])} |",
        f"| request sent to visible (upper bound) | {ordinary['visible']}/{ordinary['posts']} "
        f"| {ms(upper['p50_ms'])} | {ms(upper['p90_ms'])} "
        f"| {ms(upper['p99_ms'])} | {ms(upper['max_ms'])} |",
        f"| `POST /api/posts/` (for scale) | {ordinary['posts']} | {ms(api['p50_ms'])} "
        f"| {ms(api['p90_ms'])} | {ms(api['p99_ms'])} | {ms(api['max_ms'])} |",
        "",
        "## Celery worker",
        "",
        'RSS of the worker\'s processes, sampled every 0.25 s; "anonymous" leaves out pages '
        "of mapped files (SQLite maps up to 256 MB of its database file: `PRAGMA mmap_size`), "
        "which the kernel shares and can reclaim.",
        "",
        "| phase | largest process MB | its anonymous MB | all its processes MB |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {rss['max_process_mb']:.0f} | {rss['max_process_anon_mb']:.0f} "
            f"| {rss['max_total_mb']:.0f} |"
            for label, rss in report["worker_rss"].items()
        ),
        "",
        f"Errors in the worker's log: {report['worker_errors_logged']}. Redis used "
        f"{report['redis_used_memory_mb_end']:.0f} MB at the end.",
        "",
        "Targets:",
    ]
    followers = celebrity["followers"]
    if seconds and len(seconds) == len(celebrity["runs"]):
        worst = max(seconds)
        lines.append(
            f"- {'met' if worst < TARGET_FANOUT_S else 'NOT met'}: {followers:,} followers "
            f"fanned out in at most {worst:.2f} s by one worker (target < "
            f"{TARGET_FANOUT_S:.0f} s for 50,000; at this rate 50,000 take "
            f"{worst * 50_000 / followers:.2f} s)"
        )
    else:
        lines.append("- NOT met: the celebrity's post did not reach every follower")
    p99 = visibility["p99_ms"]
    complete = ordinary["visible"] == ordinary["posts"]
    lines.append(
        f"- {'met' if p99 is not None and complete and p99 < TARGET_VISIBILITY_MS else 'NOT met'}"
        f": ordinary post-to-feed visibility p99 {ms(p99)} ms from the 201, "
        f"{ms(upper['p99_ms'])} ms from the request ({ordinary['visible']}/{ordinary['posts']} "
        "seen; target < "
        f"{TARGET_VISIBILITY_MS / 1000:.0f} s)"
    )
    worker_max = max(rss["max_process_mb"] for rss in report["worker_rss"].values())
    anon_max = max(rss["max_process_anon_mb"] for rss in report["worker_rss"].values())
    lines.append(
        f"- {'met' if worker_max < TARGET_RSS_MB else 'NOT met'}: largest worker process "
        f"{worker_max:.0f} MB RSS, {anon_max:.0f} MB of it anonymous "
        f"(target < {TARGET_RSS_MB:.0f})"
    )
    return "\n".join(lines) + "\n"


# --- The commands ---------------------------------------------------------------------------


def check_env_file() -> None:
    if not (ROOT / ".env").exists() and not os.environ.get("SECRET_KEY"):
        raise BenchError("no .env with a SECRET_KEY: run `make .env` first.")


def command_data(args: argparse.Namespace) -> None:
    check_env_file()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        generate(
            args.size,
            args.database_url,
            WORK_DIR / f"{args.size}-external-tokens.json",
            args.env,
            args.data_command,
        )
    elif args.db == "sqlite":
        database, tokens = sqlite_paths(args.size)
        build_sqlite(args, database, tokens)
    else:
        with postgres_cluster() as database_url:
            generate(
                args.size,
                database_url,
                WORK_DIR / f"{args.size}-postgres-tokens.json",
                args.env,
                args.data_command,
            )
        say(
            "The cluster and its data are gone: `make bench DB=postgres` builds its own "
            "inside the run."
        )


def build_sqlite(args: argparse.Namespace, database: Path, tokens: Path) -> None:
    tokens.unlink(missing_ok=True)  # its absence marks the database as not ready
    remove_sqlite(database)
    try:
        generate(args.size, f"sqlite:///{database}", tokens, args.env, args.data_command)
        # Fold the write-ahead log into the file, so the file alone is the database.
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        tokens.unlink(missing_ok=True)
        remove_sqlite(database)
        raise
    say(f"SQLite database: {rel(database)}")


def command_run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed. Install it with: apt-get install wrk")
    check_env_file()
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    for name in servers:
        if name not in SERVERS:
            raise BenchError(f"unknown server {name!r}; choose from {', '.join(SERVERS)}.")
        if not (VENV_BIN / name).exists():
            if args.servers_explicit:
                raise BenchError(f"{name} is not installed in {VENV_BIN}.")
            say(f"Skipping the {name} layout: {name} is not installed in the virtualenv.")
    servers = [name for name in servers if (VENV_BIN / name).exists()]
    if not servers:
        raise BenchError("no server layout to run.")
    with prepared_database(args) as (database_url, tokens):
        benchmark(args, database_url, tokens, servers)


@contextlib.contextmanager
def prepared_database(args: argparse.Namespace) -> Iterator[tuple[str, Path]]:
    """The data set to benchmark, as (DATABASE_URL, tokens file): the kept SQLite file (built
    if missing), a throwaway PostgreSQL cluster filled for this run, or --database-url."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        yield args.database_url, Path(args.tokens or WORK_DIR / f"{args.size}-tokens.json")
    elif args.db == "sqlite":
        database, tokens = sqlite_paths(args.size)
        if database.exists() and tokens.exists():
            say(f"Using {rel(database)} (`make bench-data` rebuilds it)")
            # Kept from an earlier checkout: bring its schema up to this one's.
            python = str(VENV_BIN / "python")
            migrate = [python, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
            run_checked(migrate, base_env(f"sqlite:///{database}", args.env), "migrate")
        else:
            build_sqlite(args, database, tokens)
        yield f"sqlite:///{database}", tokens
    else:
        with postgres_cluster() as database_url:
            tokens = WORK_DIR / f"{args.size}-postgres-tokens.json"
            generate(args.size, database_url, tokens, args.env, args.data_command)
            yield database_url, tokens


def command_fanout(args: argparse.Namespace) -> None:
    check_env_file()
    if not (VENV_BIN / args.server).exists():
        raise BenchError(f"{args.server} is not installed in {VENV_BIN}.")
    with prepared_database(args) as (database_url, tokens):
        fanout_benchmark(args, database_url, tokens)


@dataclass
class Distributed:
    """The distributed mode's services for one run: Redis and one Celery worker."""

    redis: RedisServer
    worker: Worker


def benchmark(
    args: argparse.Namespace, database_url: str, tokens_path: Path, servers: list[str]
) -> None:
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"run-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if not args.redis:
        env = base_env(database_url, args.env)
        measure(args, env, tokens_path, servers, run_dir, started_at, None)
        return
    # The distributed mode: REDIS_URL turns on the Redis cache, the Celery broker and the
    # home timelines; the same Redis and worker serve every layout of the run.
    with redis_server(run_dir / "redis.log", args.port) as redis:
        env = base_env(database_url, [f"REDIS_URL={redis.url}", *args.env])
        with celery_worker(
            env, run_dir / "celery.log", redis, args.worker_pool, args.worker_concurrency
        ) as worker:
            measure(
                args, env, tokens_path, servers, run_dir, started_at, Distributed(redis, worker)
            )


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    tokens_path: Path,
    servers: list[str],
    run_dir: Path,
    started_at: datetime,
    distributed: Distributed | None,
) -> None:
    tokens = Tokens.load(tokens_path)
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    say("Counting each endpoint's SQL queries in-process (one request each)")
    spec_path = run_dir / "probe.json"
    spec_path.write_text(json.dumps({"tokens_file": str(tokens_path), "deep_pages": DEEP_PAGES}))
    probe = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "probe", str(spec_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    probed = next(
        (
            json.loads(line[len(PROBE_MARKER) :])
            for line in probe.stdout.splitlines()
            if line.startswith(PROBE_MARKER)
        ),
        None,
    )
    if probe.returncode != 0 or probed is None:
        raise BenchError(f"the query-count probe failed (exit {probe.returncode}).")
    if probed["deep_pages"] < DEEP_PAGES:
        say(
            f"  note: the viewer's feed has only {probed['deep_pages']} pages after the first; "
            "the deep page is the last one."
        )

    lists = {
        "user_tokens": str(run_dir / "user-tokens.txt"),
        "post_ids": str(run_dir / "post-ids.txt"),
    }
    Path(lists["user_tokens"]).write_text("".join(f"{t}\n" for _, t in tokens.users))
    Path(lists["post_ids"]).write_text("".join(f"{p}\n" for p in tokens.post_ids))
    endpoints = build_endpoints(
        tokens, probed["celebrity"], probed["deep_path"], probed["deep_pages"], lists
    )
    wanted = {key.strip() for key in args.endpoints.split(",") if key.strip()}
    if wanted and wanted != {"all"}:
        unknown = wanted - set(ENDPOINT_KEYS)
        if unknown:
            raise BenchError(f"unknown endpoints {sorted(unknown)}; known: {ENDPOINT_KEYS}")
        endpoints = [e for e in endpoints if e.key in wanted or e.key == "health"]
    queries: dict[str, int | None] = {}
    for endpoint in endpoints:
        measured = probed["queries"].get(endpoint.queries_from or endpoint.key)
        queries[endpoint.key] = measured["queries"] if measured else None
        if measured and not 200 <= measured["status"] < 300:
            say(f"  warning: {endpoint.label} answered {measured['status']} in-process")
    say(
        "  "
        + ", ".join(
            f"{e.key} {queries[e.key]}" for e in endpoints if queries.get(e.key) is not None
        )
    )

    per_layout = args.warmup + len(endpoints) * (args.duration + 1) + 5
    say(
        f"Benchmarking {len(endpoints)} endpoints x {len(servers)} server layouts, "
        f"{args.duration} s each: about {per_layout * len(servers) / 60:.1f} minutes"
    )
    seed = random.randrange(1 << 30)
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1) / 2:
        say(
            f"  note: the load average is {load_before:.1f} on {os.cpu_count()} CPUs: something "
            "else is running, and absolute figures will be noisy (ratios less so)."
        )
    layout_reports = []
    for layout_index, name in enumerate(servers, 1):
        port = free_port(args.port)
        layout = layouts([name], args.workers, port)[0]
        log_path = run_dir / f"{name}.log"
        with contextlib.ExitStack() as stack:
            sampler = stack.enter_context(
                RssSampler(stack.enter_context(server(layout, env, port, log_path)))
            )
            samplers = [sampler]
            if distributed is not None:
                worker_sampler = RssSampler(distributed.worker.process.pid)
                samplers.append(stack.enter_context(worker_sampler))
            problems: dict[str, str] = {}
            for endpoint in endpoints:
                if endpoint.method == "GET" and (problem := preflight(port, endpoint)):
                    problems[endpoint.key] = problem
                    say(f"  warning: {endpoint.label} {problem}")
            if args.warmup:
                set_label(samplers, "warmup")
                warm = next((e for e in endpoints if e.key == "feed"), endpoints[0])
                say(f"  warm-up: {warm.label} for {args.warmup} s")
                run_wrk(
                    warm, port, args.warmup, args.threads, args.connections, seed
                )  # result discarded
            results = []
            for index, endpoint in enumerate(endpoints, 1):
                connections = endpoint.connections or args.connections
                say(
                    f"[{name} {layout_index}/{len(servers)}, {index}/{len(endpoints)}] "
                    f"{endpoint.label}: {args.duration} s, {connections} connections"
                )
                set_label(samplers, endpoint.key)
                raw = run_wrk(
                    endpoint,
                    port,
                    args.duration,
                    args.threads,
                    args.connections,
                    seed + 1000 * layout_index + index,  # each layout likes other pairs
                )
                result = summarize(endpoint, raw, queries.get(endpoint.key))
                result.max_process_rss_mb = round(sampler.max_process.get(endpoint.key, 0.0), 1)
                result.preflight_problem = problems.get(endpoint.key)
                if distributed is not None:
                    result.tasks_pending_after = distributed.redis.pending_tasks()
                results.append(result)
                say(
                    f"    {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms, errors {format_errors(result)}"
                    + (
                        f", fan-out tasks pending {result.tasks_pending_after:,}"
                        if result.tasks_pending_after
                        else ""
                    )
                )
            worker_report: dict[str, Any] | None = None
            if distributed is not None:
                # Let the worker finish this layout's fan-out before the next layout starts,
                # and time it: the backlog the write load left behind.
                set_label(samplers, "drain")
                pending, waited, drained = wait_for_tasks(distributed.redis, DRAIN_TIMEOUT_S)
                if pending:
                    say(
                        f"  the worker ran the {pending:,} fan-out tasks left in {waited:.1f} s"
                        + ("" if drained else f" (NOT all within {DRAIN_TIMEOUT_S:.0f} s)")
                    )
                worker_report = {
                    "max_process_rss_mb": round(max(worker_sampler.max_process.values()), 1),
                    "max_total_rss_mb": round(max(worker_sampler.max_total.values()), 1),
                    "max_process_anon_mb": round(
                        max(worker_sampler.max_process_anon.values(), default=0.0), 1
                    ),
                    "tasks_pending_after_load": pending,
                    "drain_s": round(waited, 1),
                    "drained": drained,
                    "errors_logged": distributed.worker.errors(),
                }
        health = next((r for r in results if r.key == "health"), None)
        for result in results:
            if health is not None and health.requests_per_s:
                result.ratio_to_health = round(result.requests_per_s / health.requests_per_s, 3)
        max_process = max(sampler.max_process.values(), default=0.0)
        max_total = max(sampler.max_total.values(), default=0.0)
        layout_reports.append(
            {
                "server": name,
                "description": layout.description,
                "command": shlex.join(layout.command),
                "endpoints": [asdict(result) for result in results],
                "max_process_rss_mb": round(max_process, 1),
                "max_total_rss_mb": round(max_total, 1),
                "max_process_anon_mb": round(
                    max(sampler.max_process_anon.values(), default=0.0), 1
                ),
                "targets": target_checks(results, max_process, worker_report),
                "worker": worker_report,
            }
        )

    command = (
        f"make bench SIZE={args.size} DB={args.db} DURATION={args.duration} "
        f"CONNECTIONS={args.connections} THREADS={args.threads} BENCH_WORKERS={args.workers}"
        + (" REDIS=1" if distributed is not None else "")
        + (
            f" WORKER_POOL={args.worker_pool}"
            if distributed is not None and args.worker_pool != "solo"
            else ""
        )
    )
    report = {
        "meta": {
            "size": args.size,
            "db": args.db,
            **run_meta(started_at, command, ["django", "uvicorn", "gunicorn"]),
            "wrk": wrk_version(),
            "duration_s": args.duration,
            "threads": args.threads,
            "connections": args.connections,
            "workers": args.workers,
            "extra_env": args.env,
            "load_average_before": round(load_before, 2),
            "mode": "distributed" if distributed is not None else "embedded",
            "distributed": None
            if distributed is None
            else {
                "redis": redis_version(),
                "celery": package_version("celery"),
                "worker": distributed.worker.description,
                "worker_command": shlex.join(distributed.worker.command),
                "feed_timeline_ids": probed["dataset"].get("viewer_timeline_ids"),
            },
        },
        "dataset": probed["dataset"],
        "deep_pages": probed["deep_pages"],
        "deep_path": probed["deep_path"],
        "probe": probed["queries"],
        "layouts": layout_reports,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    mode = "-redis" if distributed is not None else ""
    base = RESULTS_DIR / f"{stamp}-{args.size}-{args.db}{mode}"
    Path(f"{base}.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = markdown_report(report)
    Path(f"{base}.md").write_text(markdown)
    say("")
    say(markdown)
    say(f"Saved {rel(Path(f'{base}.json'))} and {rel(Path(f'{base}.md'))}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--size", choices=SIZES, default="medium")
        sub.add_argument("--db", choices=DATABASES, default="sqlite")
        sub.add_argument(
            "--database-url",
            default="",
            help="use this database instead of a SQLite file or a throwaway cluster "
            "(`data` fills it; `run` expects it filled, with --tokens)",
        )
        sub.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="extra environment for the server and manage.py (repeatable), "
            "e.g. CONN_MAX_AGE=60",
        )
        sub.add_argument(
            "--data-command",
            default="",
            help="generator command instead of `manage.py bench_data --size SIZE`; it must "
            "write .tmp/bench/SIZE-tokens.json",
        )

    data = commands.add_parser("data", help="migrate a fresh database and generate the data")
    common(data)
    run = commands.add_parser("run", help="benchmark (generating the data if needed)")
    common(run)
    run.add_argument("--tokens", default="", help="tokens file (with --database-url)")
    run.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    run.add_argument("--connections", type=int, default=16)
    run.add_argument("--threads", type=int, default=2, help="wrk threads")
    run.add_argument("--workers", type=int, default=2, help="server worker processes")
    run.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per layout")
    run.add_argument(
        "--servers",
        default="",
        help=f"comma-separated layouts out of {', '.join(SERVERS)} "
        "(default: all that are installed)",
    )
    run.add_argument(
        "--endpoints",
        default="all",
        help=f"comma-separated subset of {', '.join(ENDPOINT_KEYS)} (health always runs)",
    )
    run.add_argument("--port", type=int, default=FIRST_PORT, help="first port to try")
    run.add_argument(
        "--redis",
        action="store_true",
        help="the distributed mode: a throwaway redis-server (REDIS_URL) and one Celery worker",
    )

    def worker_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--worker-pool", choices=WORKER_POOLS, default="solo")

    worker_options(run)
    run.add_argument("--worker-concurrency", type=int, default=1)
    fanout = commands.add_parser(
        "fanout",
        help="distributed mode: time a celebrity's post and ordinary posts into followers' "
        "Redis timelines, with one Celery worker",
    )
    common(fanout)
    fanout.add_argument("--tokens", default="", help="tokens file (with --database-url)")
    fanout.add_argument("--server", choices=SERVERS, default="uvicorn")
    fanout.add_argument("--workers", type=int, default=2, help="server worker processes")
    worker_options(fanout)
    fanout.add_argument("--port", type=int, default=FIRST_PORT, help="first port to try")
    fanout.add_argument(
        "--max-followers",
        type=int,
        default=10_000_000,
        help="FEED_FANOUT_MAX_FOLLOWERS for the run: above the celebrity's audience, so the "
        "celebrity's posts are fanned out",
    )
    fanout.add_argument("--celebrity-posts", type=int, default=3, help="posts by the celebrity")
    fanout.add_argument(
        "--celebrity",
        default="",
        help="the account whose posts are timed (one of the tokens file's celebrities; "
        "default: the most followed of them)",
    )
    fanout.add_argument("--authors", type=int, default=50, help="ordinary accounts that post")
    fanout.add_argument("--rate", type=float, default=5.0, help="ordinary posts per second")
    fanout.add_argument(
        "--post-duration", type=float, default=20.0, help="seconds of ordinary posting"
    )
    fanout.add_argument(
        "--read-connections",
        type=int,
        default=0,
        help="also load GET /api/feed/ with wrk on this many connections while ordinary "
        "accounts post (0: no read load)",
    )
    for name in ("probe", "fanout-probe"):
        hidden = commands.add_parser(name, help=argparse.SUPPRESS)
        hidden.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        args.servers_explicit = bool(args.servers)
        args.servers = args.servers or ",".join(SERVERS)
    if args.command in ("run", "fanout") and args.port <= 8100:
        parser.error("--port must be above 8100")
    return args


def run_until_done(command: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run a benchmark command as the process's work: SIGTERM, SIGHUP and Ctrl-C unwind
    through its cleanups (servers, clusters stopped), and errors end in one line, not a
    traceback. Returns the exit status."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanups

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        command(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped.", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "probe":
        probe_main(args.spec)
        return 0
    if args.command == "fanout-probe":
        fanout_probe_main(args.spec)
        return 0
    commands = {"data": command_data, "fanout": command_fanout, "run": command_run}
    return run_until_done(commands[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
