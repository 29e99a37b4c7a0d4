"""Probes of the distributed mode's Redis and Celery broker, for `GET /api/health/`.

A probe makes one round trip on a connection it keeps open between checks, bounded by
REDIS_TIMEOUT_SECONDS and never retried: a health check must answer within a known time, and
says "down" rather than wait for a component to come back. A component found down is not
probed again for DOWN_RECHECK_SECONDS. Each thread keeps its own
connections (a WSGI server's threads probe at the same time).
"""

import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import redis
from celery import current_app
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

Status = Literal["ok", "down"]

# A component found down is reported down without a probe for this long: while Redis hangs,
# each probe holds the thread that serves sync views for its timeout, and probes arriving
# every second would stall the whole API. Recovery shows within this much of Redis returning.
DOWN_RECHECK_SECONDS = 2.0

_local = threading.local()
_down_until: dict[str, float] = {}  # URL -> monotonic time until which it is taken as down


def _probed(component: str, url: str, probe: Callable[[], Status]) -> Status:
    key = f"{component} {url}"
    if time.monotonic() < _down_until.get(key, -math.inf):
        return "down"
    status = probe()
    if status == "down":
        _down_until[key] = time.monotonic() + DOWN_RECHECK_SECONDS
    else:
        _down_until.pop(key, None)
    return status


@functools.cache
def _redis(url: str, timeout: float) -> redis.Redis:
    # A client of its own, made from the settings it is given, with retries off whatever
    # redis-py's defaults (which have changed between versions) are for the feed's client.
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def redis_status() -> Status:
    """Whether the Redis of the cache, the channel layer and the home timelines answers."""
    return _probed("redis", settings.REDIS_URL, _probe_redis)


def _probe_redis() -> Status:
    try:
        _redis(settings.REDIS_URL, settings.REDIS_TIMEOUT_SECONDS).ping()
    except (redis.RedisError, OSError):
        return "down"
    return "ok"


def _broker_connection(url: str, timeout: float) -> Any:
    connections: dict[tuple[str, float], Any] = _local.__dict__.setdefault("brokers", {})
    if (url, timeout) not in connections:
        connections[url, timeout] = current_app.connection_for_write(
            url,
            connect_timeout=timeout,
            transport_options={
                "max_retries": 0,  # one attempt to connect, not kombu's retries
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
            },
        )
    return connections[url, timeout]


def broker_status() -> Status:
    """Whether Celery's broker takes a connection through kombu's transport and answers a
    PING on it: the path tasks are queued by, so a transport that cannot load (a missing
    module) is "down" too, not only a server that does not answer."""
    return _probed("broker", str(current_app.conf.broker_url), _probe_broker)


def _probe_broker() -> Status:
    key = (current_app.conf.broker_url, settings.REDIS_TIMEOUT_SECONDS)
    connection = _broker_connection(*key)
    try:
        connection.ensure_connection(max_retries=0)
        connection.default_channel.client.ping()
    except Exception:  # kombu's OperationalError, redis-py's errors, an ImportError...
        # Start afresh next time: a connection cut by an outage is not reused.
        del _local.brokers[key]
        connection.collect()
        return "down"
    return "ok"
