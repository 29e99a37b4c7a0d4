"""Home timelines in Redis: the distributed mode's fan-out-on-write feed.

Each user's timeline is a sorted set of the newest post ids of their home feed (at most
FEED_TIMELINE_SIZE, as Mastodon keeps 800). Members are the ids as 19-digit zero-padded
strings, all with score 0, so Redis orders them lexicographically, which is numeric order:
scores are doubles and cannot hold 64-bit ids exactly.

A timeline exists only once it has been built from the database in full; fan-out adds to
existing timelines only, so a missing one (new user, expired after FEED_TIMELINE_TTL of
inactivity, evicted, Redis flushed) is never mistaken for an empty feed: the reader rebuilds
it. A sentinel member, lower than every id, keeps a built timeline with no posts in
existence.

Everything here raises `redis.RedisError` when Redis is unreachable; callers fall back to SQL.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta

import redis
from django.conf import settings

SENTINEL = "0" * 19
TIMELINE_TTL = timedelta(days=7)  # Mastodon stops feeding timelines idle for a week
# How long a reader trusts its list of followed accounts too large to fan out. Not renewed by
# reads: an account that grows past the threshold (its new posts no longer fanned out) shows
# up in its followers' merge within this time.
LARGE_FOLLOWEES_TTL = timedelta(minutes=10)

# KEYS: timelines; ARGV: member, size, ttl seconds. Adds the member to each timeline that
# exists and trims it to `size` ids, dropping the oldest (rank 0 is the sentinel, kept).
_PUSH_SCRIPT = """
local size = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
    if redis.call('EXISTS', key) == 1 then
        redis.call('ZADD', key, 0, ARGV[1])
        local extra = redis.call('ZCARD', key) - 1 - size
        if extra > 0 then
            redis.call('ZREMRANGEBYRANK', key, 1, extra)
        end
    end
end
return 0
"""


KEY_PREFIX = "plaza:timeline:"


def _key(user_id: int) -> str:
    return f"{KEY_PREFIX}{user_id}"


def _large_key(user_id: int) -> str:
    """The followed accounts too large to fan out, as of the timeline's build."""
    return f"{KEY_PREFIX}{user_id}:large"


def _member(post_id: int) -> str:
    return f"{post_id:019d}"


class TimelineStore:
    def __init__(self, client: redis.Redis, *, size: int) -> None:
        self._client = client
        self._size = size
        self._push = client.register_script(_PUSH_SCRIPT)

    @property
    def size(self) -> int:
        return self._size

    def read(
        self, user_id: int, *, before: int | None, count: int
    ) -> tuple[list[int], list[int] | None] | None:
        """Up to `count` ids below `before`, newest first, and the large accounts followed
        (None once that list has expired: the caller recomputes it with `remember_large`);
        None when the timeline does not exist (the caller rebuilds it). One round trip, which
        also keeps an active user's timeline alive."""
        key, large_key = _key(user_id), _large_key(user_id)
        upper = f"({_member(before)}" if before is not None else "+"
        pipe = self._client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.zrevrangebylex(key, upper, f"({SENTINEL}", start=0, num=count)
        pipe.get(large_key)
        pipe.expire(key, TIMELINE_TTL)
        exists, members, large, _ = pipe.execute()
        if not exists:
            return None
        large_ids = None if large is None else [int(part) for part in large.split(b",") if part]
        return [int(member) for member in members], large_ids

    def remember_large(self, user_id: int, large_author_ids: Sequence[int]) -> None:
        value = ",".join(str(author) for author in large_author_ids)
        self._client.set(_large_key(user_id), value, ex=LARGE_FOLLOWEES_TTL)

    def build(
        self, user_id: int, post_ids: Sequence[int], large_author_ids: Sequence[int] = ()
    ) -> None:
        """Replace the timeline with these ids (the newest `size` of the feed), remembering
        which followed accounts are too large to fan out."""
        key, large_key = _key(user_id), _large_key(user_id)
        mapping = {SENTINEL: 0, **{_member(post_id): 0 for post_id in post_ids[: self._size]}}
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.zadd(key, mapping)
        pipe.expire(key, TIMELINE_TTL)
        value = ",".join(str(author) for author in large_author_ids)
        pipe.set(large_key, value, ex=LARGE_FOLLOWEES_TTL)
        pipe.execute()

    def add(self, user_id: int, post_ids: Iterable[int]) -> None:
        """Add ids to one existing timeline (catching up after a build)."""
        for post_id in post_ids:
            self._push(keys=[_key(user_id)], args=[_member(post_id), self._size])

    def push(self, user_ids: Sequence[int], post_id: int) -> None:
        """Fan one post out to these users' timelines, those that exist, in one round trip."""
        if user_ids:
            self._push(
                keys=[_key(user_id) for user_id in user_ids], args=[_member(post_id), self._size]
            )

    def remove(self, user_ids: Sequence[int], post_id: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.zrem(_key(user_id), _member(post_id))
        pipe.execute()

    def drop(self, user_id: int) -> None:
        """Forget a timeline; the next read rebuilds it from the database."""
        self._client.delete(_key(user_id), _large_key(user_id))

    def drop_all(self) -> int:
        """Forget every timeline (after a Redis outage during which fan-out was lost)."""
        dropped = 0
        for key in self._client.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
            deleted = self._client.delete(key)
            if not key.endswith(b":large"):  # count timelines, not their companion lists
                dropped += int(deleted)
        return dropped


def timeline_store() -> TimelineStore | None:
    """The store, or None when timelines are off (the embedded default)."""
    from plaza.core.redis import redis_client

    client = redis_client()
    if not settings.FEED_TIMELINES or client is None:
        return None
    return TimelineStore(client, size=settings.FEED_TIMELINE_SIZE)
