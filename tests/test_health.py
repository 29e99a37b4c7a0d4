"""GET /api/health/ reports each component this process uses, and says when one is down.

The embedded default uses only its database and probes nothing else. With REDIS_URL the check
also pings Redis and, when tasks go to workers, the Celery broker, each bounded by
REDIS_TIMEOUT_SECONDS: one that is down makes the answer `degraded`, still 200 (the API serves
on, reading from the database). A database that is down is a 503: tests/test_database_outage.py.
"""

import json
import os
import signal
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from celery import current_app
from django.test import override_settings
from rest_framework.test import APIClient

import plaza.rest.health
from tests.servers import (
    RedisProcess,
    Server,
    exchange,
    rest,
    server_environment,
    start_redis,
    start_server,
    stop_redis,
    stop_server,
)

pytestmark = pytest.mark.django_db

EMBEDDED = {"status": "ok", "components": {"database": "ok"}}


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens (bound, never listening): refused at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_the_embedded_default_reports_its_database_and_probes_nothing_else(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, count_queries
) -> None:
    def no_probe() -> str:
        raise AssertionError("the embedded default has no Redis or broker to probe")

    monkeypatch.setattr(plaza.rest.health, "redis_status", no_probe)
    monkeypatch.setattr(plaza.rest.health, "broker_status", no_probe)
    responses = []

    # As in `make run`, whatever the environment running the suite says.
    with override_settings(REDIS_URL="", CELERY_TASK_ALWAYS_EAGER=True):
        assert count_queries(lambda: responses.append(api_client.get("/api/health/"))) == 0
    assert responses[0].status_code == 200
    assert responses[0].json() == EMBEDDED


def test_redis_and_broker_down_is_degraded_not_unavailable(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    url = f"redis://127.0.0.1:{closed_port}/0"
    monkeypatch.setattr(current_app.conf, "broker_url", url)
    with override_settings(REDIS_URL=url, CELERY_TASK_ALWAYS_EAGER=False):
        started = time.monotonic()
        response = api_client.get("/api/health/")
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "components": {"database": "ok", "redis": "down", "broker": "down"},
    }
    assert elapsed < 1.0  # refused connections: no retries, no waiting
    assert "Retry-After" not in response


def test_with_eager_tasks_the_broker_is_not_reported(
    api_client: APIClient, closed_port: int
) -> None:
    """Tasks that run in the process that queues them never reach a broker."""
    with override_settings(
        REDIS_URL=f"redis://127.0.0.1:{closed_port}/0", CELERY_TASK_ALWAYS_EAGER=True
    ):
        response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "components": {"database": "ok", "redis": "down"},
    }


# --- A real server and a real Redis (make test-distributed) ---------------------------------

# Shortened from 0.5 s so that the bound is quick to check; each probe waits at most this.
PROBE_TIMEOUT = 0.3


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis of the test's own, which it stops and starts again."""
    started = start_redis(tmp_path)
    yield started
    if started.process.poll() is None:
        os.kill(started.process.pid, signal.SIGCONT)  # if a test left it paused
        stop_redis(started)


@pytest.fixture
def distributed_server(redis_server: RedisProcess, tmp_path: Path) -> Iterator[Server]:
    """uvicorn in the distributed mode on that Redis, tasks queued for workers. The health
    check reads no table, so its database is a file nobody migrated."""
    environment = server_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'health.sqlite3'}",
        REDIS_URL=redis_server.url,
        REDIS_TIMEOUT_SECONDS=str(PROBE_TIMEOUT),
        CELERY_TASK_ALWAYS_EAGER="false",
        CACHE_URL="",
    )
    server = start_server(environment, tmp_path / "uvicorn.log")
    yield server
    stop_server(server)


def wait_until_healthy_again(server: Server, everything_up: Mapping[str, object]) -> None:
    deadline = time.monotonic() + 5
    while (answer := health(server))[1] != everything_up:
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)


def health(server: Server) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    answer = exchange(server, "GET", "/api/health/", timeout=10)
    return answer.status, json.loads(answer.body), time.monotonic() - started


@pytest.mark.redis
def test_a_real_redis_paused_stopped_and_started_again(
    redis_server: RedisProcess, distributed_server: Server, tmp_path: Path
) -> None:
    everything_up = {
        "status": "ok",
        "components": {"database": "ok", "redis": "ok", "broker": "ok"},
    }
    assert rest(distributed_server, "GET", "/api/health/", None) == everything_up

    # Paused: connections are accepted and never answered, so each probe waits its timeout.
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        status, body, elapsed = health(distributed_server)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert (status, body["status"]) == (200, "degraded"), body
    assert body["components"] == {"database": "ok", "redis": "down", "broker": "down"}
    assert elapsed < 4 * PROBE_TIMEOUT + 0.5, elapsed
    # While down, it is reported down without a probe that would wait (DOWN_RECHECK_SECONDS).
    status, body, elapsed = health(distributed_server)
    assert body["status"] == "degraded"
    assert elapsed < PROBE_TIMEOUT, elapsed
    wait_until_healthy_again(distributed_server, everything_up)

    # Stopped: refused at once.
    stop_redis(redis_server)
    status, body, elapsed = health(distributed_server)
    assert (status, body["status"]) == (200, "degraded"), body
    assert body["components"] == {"database": "ok", "redis": "down", "broker": "down"}
    assert elapsed < 1.0, elapsed

    # Back on the same port: the same server process says so on its next probe.
    (tmp_path / "again").mkdir()
    again = start_redis(tmp_path / "again", port=redis_server.port)
    try:
        wait_until_healthy_again(distributed_server, everything_up)
    finally:
        stop_redis(again)
