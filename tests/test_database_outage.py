"""A database outage under a real server: PostgreSQL stopped and started again by the test.

The test starts a PostgreSQL cluster of its own (scripts/postgres.sh), migrates it and serves
Plaza from it with uvicorn, configured as in production (DEBUG off, the connection pool on).
While PostgreSQL is down, reads and writes answer 503 in the one error shape with Retry-After,
never a traceback or an HTML page, and quickly enough for a client to act on it. When it comes
back, the same server process answers again within seconds, without a restart: the pool drops
the connections the shutdown cut and opens new ones by itself.

Marked `postgres`: it runs where PostgreSQL's binaries are known to be (make test-postgres).
"""

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plaza.core.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.servers import (
    PROJECT_ROOT,
    Answer,
    Server,
    exchange,
    migrate,
    rest,
    server_environment,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.postgres

POSTGRES_SH = PROJECT_ROOT / "scripts" / "postgres.sh"
# The first request of an outage waits DATABASE_POOL_TIMEOUT for a connection (shortened here
# from its default of 10 s); the next ones are refused at once (plaza/core/postgresql/base.py).
POOL_TIMEOUT = 3.0
FIRST_REFUSAL_DEADLINE = POOL_TIMEOUT + 2.0
REFUSAL_DEADLINE = 1.5
# How long after PostgreSQL is back the same process must be serving again.
RECOVERY_DEADLINE = 10.0
PASSWORD = "outage-test-passphrase"


@dataclass
class Cluster:
    directory: Path
    url: str

    def pause(self) -> None:
        subprocess.run([POSTGRES_SH, "pause", self.directory], check=True)  # noqa: S603

    def resume(self) -> None:
        subprocess.run([POSTGRES_SH, "resume", self.directory], check=True)  # noqa: S603


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: as root the server runs as `postgres`, which must be able
    # to reach the directory (scripts/with-postgres.sh does the same).
    directory = Path(tempfile.mkdtemp(prefix="plaza-outage-"))
    try:
        started = subprocess.run(  # noqa: S603
            [POSTGRES_SH, "start", directory], check=True, capture_output=True, text=True
        )
        yield Cluster(directory, started.stdout.strip())
    finally:
        subprocess.run([POSTGRES_SH, "stop", directory], check=False)  # noqa: S603


@pytest.fixture
def server(cluster: Cluster, tmp_path: Path) -> Iterator[Server]:
    environment = server_environment(
        DATABASE_URL=cluster.url,
        # The pool is the default for PostgreSQL; said here because it is what is tested.
        DATABASE_POOL="on",
        DATABASE_POOL_TIMEOUT=str(POOL_TIMEOUT),
        REDIS_URL="",
        CACHE_URL="",
        CELERY_TASK_ALWAYS_EAGER="",
    )
    migrate(environment)
    started = start_server(environment, tmp_path / "uvicorn.log")
    yield started
    stop_server(started)


def assert_unavailable(answer: Answer) -> None:
    """503 in the one error shape, with Retry-After: not a traceback, not HTML."""
    assert answer.status == 503, (answer.status, answer.body[:500])
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    assert answer.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    body = json.loads(answer.body)
    assert body == {
        "code": "database_unavailable",
        "message": "The service is busy. Try again shortly.",
        "fields": {},
    }


def timed(server: Server, method: str, path: str, token: str | None, data: object = None):
    started = time.monotonic()
    answer = exchange(server, method, path, token, data, timeout=30)
    return answer, time.monotonic() - started


def test_database_outage_is_503_and_the_server_recovers_by_itself(
    cluster: Cluster, server: Server
) -> None:
    token = rest(
        server,
        "POST",
        "/api/auth/register/",
        None,
        {"username": "ada", "email": "ada@example.com", "password": PASSWORD},
    )["token"]
    before = rest(server, "POST", "/api/posts/", token, {"title": "Before", "content": "up"})
    assert exchange(server, "GET", "/api/posts/", token).status == 200

    cluster.pause()
    refusals = {
        "read": timed(server, "GET", "/api/posts/", token),
        "write": timed(server, "POST", "/api/posts/", token, {"title": "Down", "content": "x"}),
        "anonymous read": timed(server, "GET", f"/api/posts/{before['id']}/", None),
        "feed": timed(server, "GET", "/api/feed/", token),
        "health": timed(server, "GET", "/api/health/", None),
    }
    for index, (name, (answer, seconds)) in enumerate(refusals.items()):
        assert_unavailable(answer)
        assert seconds < (REFUSAL_DEADLINE if index else FIRST_REFUSAL_DEADLINE), (name, seconds)

    cluster.resume()
    resumed = time.monotonic()
    while (answer := exchange(server, "GET", "/api/posts/", token, timeout=30)).status != 200:
        assert_unavailable(answer)
        assert time.monotonic() - resumed < RECOVERY_DEADLINE, "the server did not recover"
        time.sleep(0.2)
    recovery = time.monotonic() - resumed
    assert server.process.poll() is None  # the same process, never restarted

    # Everything works again, and nothing written before the outage was lost; the write
    # refused during the outage did not happen.
    titles = [post["title"] for post in json.loads(answer.body)["results"]]
    assert titles == ["Before"]
    after = rest(server, "POST", "/api/posts/", token, {"title": "After", "content": "up"})
    assert rest(server, "GET", f"/api/posts/{after['id']}/", None)["title"] == "After"
    assert rest(server, "GET", "/api/health/", None) == {
        "status": "ok",
        "components": {"database": "ok"},
    }
    print(  # shown with -s / -rP: the numbers the docs quote
        "time to 503: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, (_a, seconds) in refusals.items())
        + f"; recovered {recovery:.2f} s after PostgreSQL was back"
    )
