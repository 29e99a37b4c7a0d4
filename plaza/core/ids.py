"""Time-sortable 64-bit ids ("snowflakes"), as Mastodon and Takahē use.

An id is ``milliseconds since the Unix epoch << 16 | node << 10 | sequence``:

* ordering rows by id is ordering them by creation time, so a timeline needs one indexed
  column for keyset pagination, and ``max_id``/``since_id`` style paging works directly;
* the 48-bit timestamp lasts until the year 10889 and the whole value stays below 2**63,
  so it fits a signed BIGINT on PostgreSQL and SQLite;
* the 6 node bits keep processes apart (``PLAZA_NODE_ID``, otherwise random per process)
  and the 10-bit sequence gives each process 1,024 ids per millisecond.

JavaScript numbers lose precision above 2**53, so the API renders these ids as strings.
"""

import os
import secrets
import threading
import time
from datetime import UTC, datetime

NODE_BITS = 6
SEQUENCE_BITS = 10
TIMESTAMP_SHIFT = NODE_BITS + SEQUENCE_BITS
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1


def _node_id() -> int:
    configured = os.environ.get("PLAZA_NODE_ID")
    if configured is not None:
        node = int(configured)
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"PLAZA_NODE_ID must be between 0 and {MAX_NODE}, got {node}")
        return node
    return secrets.randbelow(MAX_NODE + 1)


class SnowflakeGenerator:
    """Thread-safe, monotonic id source for one process."""

    def __init__(self, node: int) -> None:
        self._node = node
        self._lock = threading.Lock()
        self._last_ms = 0
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms < self._last_ms:
                # The clock stepped back (NTP): keep issuing from the last millisecond seen
                # rather than going backwards and breaking time order.
                now_ms = self._last_ms
            if now_ms == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    now_ms = self._wait_for_next_ms(self._last_ms)
            else:
                self._sequence = 0
            self._last_ms = now_ms
            return (now_ms << TIMESTAMP_SHIFT) | (self._node << SEQUENCE_BITS) | self._sequence

    @staticmethod
    def _wait_for_next_ms(last_ms: int) -> int:
        now_ms = time.time_ns() // 1_000_000
        while now_ms <= last_ms:
            time.sleep(0.0001)
            now_ms = time.time_ns() // 1_000_000
        return now_ms


_generator: SnowflakeGenerator | None = None
_generator_pid: int | None = None


def next_id() -> int:
    """A new id. Safe after fork: each child process gets its own generator and node."""
    global _generator, _generator_pid
    pid = os.getpid()
    if _generator is None or _generator_pid != pid:
        _generator = SnowflakeGenerator(_node_id())
        _generator_pid = pid
    return _generator.next_id()


def id_from_datetime(moment: datetime) -> int:
    """The smallest id that could be issued at ``moment``: a lower bound for time queries."""
    return int(moment.timestamp() * 1000) << TIMESTAMP_SHIFT


def datetime_from_id(snowflake: int) -> datetime:
    return datetime.fromtimestamp((snowflake >> TIMESTAMP_SHIFT) / 1000, tz=UTC)
