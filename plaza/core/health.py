"""Probes of the distributed mode's Redis and Celery broker, for `GET /api/health/`.

A probe makes one round trip on a connection it keeps open between checks, bounded by
REDIS_TIMEOUT_SECONDS and never retried: a health check must answer within a known time, and
says "down" rather than wait for a component to come back. Each thread keeps its own
connections (a WSGI server's threads probe at the same time).
"""

import functools
import threading
from typing import Any, Literal

import redis
from celery import current_app
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

Status = Literal["ok", "down"]

_local = threading.local()


@functools.cache
def _redis(url: str, timeout: float) -> redis.Redis:
    # A client of its own, made from the settings it is given, with retries off whatever
    # redis-py's defaults (which have changed between versions) are for the feed's client.
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def redis_status() -> Status:
    """Whether the Redis of the cache, the channel layer and the home timelines answers."""
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
