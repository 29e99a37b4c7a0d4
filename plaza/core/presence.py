"""Who has a WebSocket open, for the per-user connection cap and for sending `feed.post`
only to followers who are there to see it.

Embedded default: this process's own table (its in-memory channel layer reaches no other
process anyway). Distributed mode: Redis, shared by every server process and Celery worker.
There, a connection is an entry with an expiry that the consumer's heartbeat pushes forward,
so the connections of a server that died vanish by themselves instead of counting forever.
"""

import time
from collections import defaultdict
from functools import cache
from typing import Protocol

import redis
from django.conf import settings

from plaza.core.redis import redis_client


def _expiry_seconds() -> float:
    # Three missed heartbeats: a live connection refreshes long before its entry expires.
    return settings.REALTIME_HEARTBEAT_SECONDS * 3


class Presence(Protocol):
    # Whether entries expire unless `refresh`ed (the consumers' heartbeat skips it if not).
    expires: bool

    def connect(self, user_id: int, connection: str) -> int:
        """Record an open connection; return how many the user now has, this one included."""

    def refresh(self, user_id: int, connection: str) -> None: ...

    def disconnect(self, user_id: int, connection: str) -> None: ...

    def online(self) -> list[int]:
        """The users with at least one open connection."""

    def is_online(self, user_id: int) -> bool: ...


class LocalPresence:
    expires = False  # a closing connection always leaves; nothing outlives the process

    def __init__(self) -> None:
        self._connections: defaultdict[int, set[str]] = defaultdict(set)

    def connect(self, user_id: int, connection: str) -> int:
        self._connections[user_id].add(connection)
        return len(self._connections[user_id])

    def refresh(self, user_id: int, connection: str) -> None:
        return None

    def disconnect(self, user_id: int, connection: str) -> None:
        connections = self._connections.get(user_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._connections[user_id]

    def online(self) -> list[int]:
        return list(self._connections)

    def is_online(self, user_id: int) -> bool:
        return user_id in self._connections


ONLINE_KEY = "realtime:online"


def _connections_key(user_id: int) -> str:
    return f"realtime:connections:{user_id}"


class RedisPresence:
    """A sorted set per user (connection -> expiry) for the cap, and one of every user
    (user id -> latest expiry) for `online`. Raises redis.RedisError when Redis is down."""

    expires = True  # a crashed server's connections must vanish by themselves

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def connect(self, user_id: int, connection: str) -> int:
        now = time.time()
        expires = now + _expiry_seconds()
        key = _connections_key(user_id)
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {connection: expires})
        pipe.expire(key, int(_expiry_seconds()) + 1)
        pipe.zcard(key)
        # GT keeps the latest expiry of the user's connections (and adds a new user).
        pipe.zadd(ONLINE_KEY, {str(user_id): expires}, gt=True)
        results = pipe.execute()
        return int(results[3])

    def refresh(self, user_id: int, connection: str) -> None:
        self.connect(user_id, connection)

    def disconnect(self, user_id: int, connection: str) -> None:
        # The user's entry in ONLINE_KEY is left to expire: another connection may remain,
        # and an extra feed event for nobody costs one publish.
        self.client.zrem(_connections_key(user_id), connection)

    def online(self) -> list[int]:
        now = time.time()
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(ONLINE_KEY, "-inf", now)
        pipe.zrangebyscore(ONLINE_KEY, now, "+inf")
        _removed, members = pipe.execute()
        return [int(member) for member in members]

    def is_online(self, user_id: int) -> bool:
        expires = self.client.zscore(ONLINE_KEY, str(user_id))
        return expires is not None and float(expires) > time.time()


@cache
def _local_presence() -> LocalPresence:
    return LocalPresence()


def presence() -> Presence:
    client = redis_client()
    if client is not None:
        return RedisPresence(client)
    return _local_presence()
