"""Time-sortable 64-bit ids ("snowflakes"), as Mastodon and Takahē use.

An id is ``milliseconds since 2020-01-01 << 21 | node << 10 | sequence``:

* ordering rows by id is ordering them by creation time, so a timeline needs one indexed
  column for keyset pagination, and ``max_id``/``since_id`` style paging works directly;
* the value stays below 2**63 (42 bits of milliseconds: until the year 2159),
  so it fits a signed BIGINT on PostgreSQL and SQLite;
* the 11 node bits are drawn at random by each process (each worker of each machine), and
  each millisecond's 10-bit sequence starts at a random value below 512. Two processes produce the
  same id only if they drew the same node (1 in 2,048 per pair) *and* issue ids in the
  same millisecond from the same sequence value (about 1 in 512); the primary key refuses
  such a duplicate rather than storing it.

JavaScript numbers lose precision above 2**53, so the API renders these ids as strings.
"""

import os
import secrets
import threading
import time
from datetime import UTC, datetime

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
NODE_BITS = 11
SEQUENCE_BITS = 10
TIMESTAMP_SHIFT = NODE_BITS + SEQUENCE_BITS
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1
RANDOM_START_LIMIT = (MAX_SEQUENCE + 1) // 2


def _now_ms() -> int:
    return time.time_ns() // 1_000_000 - EPOCH_MS


class SnowflakeGenerator:
    """Thread-safe, monotonic id source for one process."""

    def __init__(self, node: int) -> None:
        self._node = node
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now_ms = _now_ms()
            if now_ms < self._last_ms:
                # The clock stepped back (NTP): keep issuing from the last millisecond seen
                # rather than going backwards and breaking time order.
                now_ms = self._last_ms
            if now_ms == self._last_ms and self._sequence >= MAX_SEQUENCE:
                now_ms = self._wait_for_next_ms(self._last_ms)
            if now_ms != self._last_ms:
                self._last_ms = now_ms
                # A random start in the lower half: processes sharing a node rarely meet,
                # and at least 512 ids per millisecond remain, still in increasing order.
                self._sequence = secrets.randbelow(RANDOM_START_LIMIT)
            else:
                self._sequence += 1
            sequence = self._sequence
            return (now_ms << TIMESTAMP_SHIFT) | (self._node << SEQUENCE_BITS) | sequence

    @staticmethod
    def _wait_for_next_ms(last_ms: int) -> int:
        now_ms = _now_ms()
        while now_ms <= last_ms:
            time.sleep(0.0001)
            now_ms = _now_ms()
        return now_ms


_generator: SnowflakeGenerator | None = None
_generator_pid: int | None = None


def next_id() -> int:
    """A new id. Safe after fork: each child process gets its own generator and node."""
    global _generator, _generator_pid
    pid = os.getpid()
    if _generator is None or _generator_pid != pid:
        _generator = SnowflakeGenerator(secrets.randbelow(MAX_NODE + 1))
        _generator_pid = pid
    return _generator.next_id()


def id_from_datetime(moment: datetime) -> int:
    """The smallest id that could be issued at ``moment``: a lower bound for time queries."""
    return max(0, int(moment.timestamp() * 1000) - EPOCH_MS) << TIMESTAMP_SHIFT


def datetime_from_id(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> TIMESTAMP_SHIFT) + EPOCH_MS) / 1000, tz=UTC)
