"""The shared Redis connection of the distributed mode (`REDIS_URL`).

Everything Plaza keeps in Redis can be rebuilt from the database, so callers treat Redis as
optional: when it is not configured `redis_client()` is None, and when it is unreachable the
commands raise `redis.RedisError`, which callers catch to fall back to SQL (fail open).
"""

import functools
import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


@functools.cache
def redis_client() -> "redis.Redis | None":
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(
        settings.REDIS_URL,
        # A request must not hang on a dead Redis: fail fast and fall back to the database.
        socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
