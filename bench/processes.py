"""Starting and stopping what a run needs: the database, Plaza's servers, a throwaway Redis,
a Celery worker, child processes; each in its own process group, stopped by its id."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    CELERY_QUEUE,
    CELERY_UNACKED,
    HEALTH_TIMEOUT_S,
    POSTGRES_SH,
    ROOT,
    RSS_SAMPLE_INTERVAL_S,
    VENV_BIN,
    WORK_DIR,
    BenchError,
    rel,
    say,
    tail,
)
from redis import Redis, RedisError


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
    "FOLLOWS", "REALTIME_TICKET", "MEDIA",
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


def wait_until_ready(
    process: subprocess.Popen[bytes], log_path: Path, what: str, ready: Callable[[], bool]
) -> None:
    """Poll `ready` until it holds; fail with the end of the log if the process exits first or
    HEALTH_TIMEOUT_S passes."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"{what} exited with {process.returncode} before it was ready; its log "
                f"({rel(log_path)}) ends with:\n{tail(log_path)}"
            )
        if ready():
            return
        time.sleep(0.2)
    raise BenchError(
        f"{what} was not ready within {HEALTH_TIMEOUT_S:.0f} s; its log ({rel(log_path)}) "
        f"ends with:\n{tail(log_path)}"
    )


def wait_for_health(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Until /api/health/ answers 200."""
    url = f"http://127.0.0.1:{port}/api/health/"

    def healthy() -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
        return False

    wait_until_ready(process, log_path, f"the server ({url})", healthy)


def redis_client(port: int) -> Redis:
    return Redis(host="127.0.0.1", port=port, socket_timeout=5, decode_responses=True)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @functools.cached_property
    def client(self) -> Redis:
        return redis_client(self.port)

    def pending_tasks(self) -> int:
        """Tasks queued or being run: Celery's queue list, plus kombu's hash of messages
        delivered but not yet acknowledged (the settings acknowledge after the task)."""
        return int(self.client.llen(CELERY_QUEUE)) + int(self.client.hlen(CELERY_UNACKED))

    def used_memory_mb(self) -> float:
        return int(self.client.info("memory")["used_memory"]) / 2**20


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
        with contextlib.suppress(RedisError), redis_client(port) as client:
            if client.ping():
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

    def consuming() -> bool:
        return any(client.get("cmd") == "brpop" for client in redis.client.client_list())

    wait_until_ready(process, log_path, "the Celery worker", consuming)


def wait_for_tasks(redis: RedisServer, timeout: float) -> tuple[int, float, bool]:
    """Wait until the worker has run every queued task: (tasks pending at the start, seconds
    waited, whether the queue emptied in time)."""
    started = time.monotonic()
    pending = first = redis.pending_tasks()
    while pending and time.monotonic() - started < timeout:
        time.sleep(0.1)
        pending = redis.pending_tasks()
    return first, time.monotonic() - started, pending == 0


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
