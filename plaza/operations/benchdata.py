"""A realistic social network, built fast, for benchmarks (`manage.py bench_data`).

Nothing goes through the ORM or the services but the few API tokens: at a million posts that
is the difference between minutes and hours. The generator draws the network table by table
and keeps in memory what later tables need (who follows whom, each post's author), so every
denormalised counter is known when its row is made and goes in with it, exact. Rows are made
in a forked process and loaded by the calling one, so on two cores both run at once; they go
in by COPY on PostgreSQL (one transaction) and by executemany of raw INSERTs on SQLite, with
the secondary indexes (and on PostgreSQL the keys and foreign keys) dropped for the load and
built once at the end: one sort per index instead of millions of random B-tree inserts.

The shape of the network:

* follows: most accounts follow 50-500 others (a truncated power law), one in ten follows
  fewer; a few "celebrity" accounts are followed by a large share of everyone (at the large
  size the top ones by 50,000+), and the others' audiences follow a Zipf law;
* posts: spread over the last four weeks; a fifth of the accounts only read, the others post
  with a heavy-tailed activity;
* likes and comments: several likes and about one comment per post on average, many more on
  the posts of accounts with large audiences, mostly from their followers;
* notifications: one per follow, like and comment, as the services create them (none for
  one's own actions); those older than the recipient's last visit are read, newer ones unread;
* `bench_viewer` follows exactly min(1,000, users - 1) accounts, celebrities included.

Ids are snowflakes (plaza.core.ids) whose timestamps are the rows' creation times, all in the
past, so ids issued later by the running server sort after them and never collide.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import random
import secrets
import sys
import time
import traceback
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from plaza.accounts.models import TOKEN_PREFIX, AuthToken, User, hash_token
from plaza.core.ids import EPOCH_MS, TIMESTAMP_SHIFT
from plaza.graph.models import Follow
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Comment, Like, Post, Visibility

# --- What to build ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    users: int
    posts: int


SIZES = {
    "small": Size(users=1_000, posts=10_000),
    "medium": Size(users=10_000, posts=100_000),
    "large": Size(users=100_000, posts=1_000_000),
}

VIEWER_USERNAME = "bench_viewer"
VIEWER_FOLLOWS = 1_000
SAMPLE_TOKEN_USERS = 200
CELEBRITY_TOKENS = 5
SAMPLE_POST_IDS = 1_000
# Every generated account has this password (hashed once): handy to sign in to a benchmark
# database by hand. Benchmark databases are throwaway and local.
BENCH_PASSWORD = "plaza-bench"  # noqa: S105 - documented credential of a throwaway database
TOKEN_DEVICE = "bench_data"  # noqa: S105 - a device label, not a secret

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
USERS_JOINED_DAYS = (400, 28)  # accounts were created between 400 and 28 days ago
POSTS_DAYS = 28  # posts are spread over the last four weeks
LIKE_DELAY_MS = 6 * HOUR_MS  # mean time from a post to a like
COMMENT_DELAY_MS = 12 * HOUR_MS
LAST_VISIT_MEAN_MS = 3 * DAY_MS  # notifications after a user's last visit are unread

LIGHT_USERS = 0.10  # share of accounts following fewer than 50 others
FOLLOWS_MIN, FOLLOWS_MAX, FOLLOWS_ALPHA = 50, 500, 1.5
ZIPF_OFFSET = 50  # popularity of ordinary accounts: 1 / (rank + offset)
ZIPF_UNIFORM_SHARE = 0.3  # part of the ordinary follows that ignore popularity
LURKERS = 0.20  # share of accounts that never post
ACTIVITY_ALPHA = 1.5  # the others post in proportion to a Pareto variable (median 1.6)
MAX_ACTIVITY = 150.0  # the busiest accounts post a few hundred times in four weeks
VIEWER_POPULARITY = 0.03  # the viewer's popularity rank among ordinary accounts, top 3%
VIEWER_ACTIVITY = 3.0
LIKES_PER_POST = 5.0
COMMENTS_PER_POST = 1.0
AUDIENCE_EXPONENT = 0.7  # engagement grows with audience ** this
FROM_FOLLOWERS = 0.8  # share of likes and comments that come from the author's followers
SELF_REPLIES = 0.08  # share of comments written by the post's own author
MAX_COMMENTS_PER_POST = 2_000

BATCH_ROWS = 20_000  # rows per executemany and per progress update


def celebrity_count(users: int) -> int:
    return min(max(3, users // 2_000), users - 1)


def celebrity_share(rank: int) -> float:
    """The probability that any given account follows the celebrity of this rank (0-based):
    75% for the first, 53% for the second, ... about 10% for the fiftieth."""
    return 0.75 / math.sqrt(rank + 1)


# --- Text -------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


_WORDS = _words(
    "morning coffee city river light garden music book train street market friend weekend "
    "project code release bug test deploy server cloud rain sun winter summer spring autumn "
    "photo walk ride run trail mountain sea harbour bread recipe kitchen dinner lunch tea "
    "idea question answer story movie series song album concert ticket game team match goal "
    "school lesson paper draft note list plan trip map station bridge park tree flower bird "
    "cat dog neighbour window desk chair lamp screen phone battery update version library "
    "tool shell editor keyboard quiet loud small big new old first last best slow fast "
    "today tomorrow yesterday finally again still almost really never always maybe"
)
_FIRST_NAMES = _words(
    "ada alan alice amir ana ben bob carla chen dana dave elena emma eric farah felix grace "
    "hana ian ines ivan jade jon kai kim lara leo lina luca maya mei nina noah omar paula "
    "quinn raj rosa sam sara tom uma vera wei yara yusuf zoe"
)
_LAST_NAMES = _words(
    "adams baker costa diaz evans fischer garcia haddad ito jensen kim lopez martin nguyen "
    "okafor patel quist rossi silva tanaka ueda varga weber xu young zhang"
)


@dataclass
class Texts:
    titles: list[str]
    contents: list[str]
    comments: list[str]
    bios: list[str]

    @classmethod
    def build(cls, rng: random.Random) -> Texts:
        """Pools of plausible text to draw from: drawing is far cheaper than composing."""

        def sentence() -> str:
            return " ".join(rng.choices(_WORDS, k=rng.randint(5, 16))).capitalize() + "."

        sentences = [sentence() for _ in range(4000)]

        def paragraph(low: int, high: int) -> str:
            return " ".join(rng.choices(sentences, k=rng.randint(low, high)))

        return cls(
            titles=[
                " ".join(rng.choices(_WORDS, k=rng.randint(2, 7))).capitalize() for _ in range(3000)
            ],
            contents=[paragraph(1, 4) for _ in range(8000)],
            comments=[paragraph(1, 2) for _ in range(3000)],
            bios=[paragraph(1, 2)[:200] for _ in range(1000)],
        )


# --- Ids and timestamps -----------------------------------------------------------------------

Stamp = Callable[[int], tuple[int, str]]


class _Clock:
    """Texts of datetimes for one database, cached by minute: formatting a datetime costs
    more than everything else a row needs."""

    def __init__(self, suffix: str) -> None:
        self.within_minute = [
            f"{second:02d}.{ms:03d}000{suffix}" for second in range(60) for ms in range(1000)
        ]
        self.hours_minutes = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
        self.days: dict[int, str] = {}
        self.minutes: dict[int, str] = {}

    def minute_text(self, minute: int) -> str:
        """'YYYY-MM-DD HH:MM:' of a minute since the snowflake epoch."""
        day, in_day = divmod(minute + EPOCH_MS // MINUTE_MS, 1440)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d ")
            self.days[day] = prefix
        text = self.minutes[minute] = prefix + self.hours_minutes[in_day]
        return text

    def text(self, ms: int) -> str:
        """The text of a millisecond since the snowflake epoch."""
        minute, rest = divmod(ms, MINUTE_MS)
        return (self.minutes.get(minute) or self.minute_text(minute)) + self.within_minute[rest]


_CLOCKS: dict[str, _Clock] = {}


def _clock(suffix: str) -> _Clock:
    clock = _CLOCKS.get(suffix)
    if clock is None:
        clock = _CLOCKS[suffix] = _Clock(suffix)
    return clock


def stamper(total: int, suffix: str, *, sequence_bits: int = TIMESTAMP_SHIFT) -> Stamp:
    """A function giving the next of `total` rows of a table, created at a millisecond since
    the snowflake epoch, its id and its creation time as the database's text for a datetime
    column: what Django itself stores on SQLite (naive UTC), with an offset for PostgreSQL.

    The id's low 21 bits (node and sequence in a live id) hold the row's number modulo
    2**21, so rows of one block of 2**21 never share them; rows of different blocks are kept
    apart by their millisecond, moved back by less than `blocks` ms so that it is congruent
    to the block's number. Tables under 2**21 rows keep their exact milliseconds.
    """
    mask = (1 << sequence_bits) - 1
    blocks = max(1, -(-total // (mask + 1)))
    clock = _clock(suffix)
    within, minutes, minute_text = clock.within_minute, clock.minutes, clock.minute_text
    number = -1

    def stamp(ms: int) -> tuple[int, str]:
        nonlocal number
        number += 1
        if blocks > 1:
            ms -= (ms - (number >> sequence_bits)) % blocks
        minute, rest = divmod(ms, MINUTE_MS)
        prefix = minutes.get(minute) or minute_text(minute)
        return (ms << sequence_bits) | (number & mask), prefix + within[rest]

    return stamp


# --- Progress ---------------------------------------------------------------------------------


class Stream(Protocol):
    def write(self, text: str, /) -> object: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


class Progress:
    """One line per phase on `stream`, rewritten in place on a terminal: rows done, rows
    expected, rate and elapsed time. Off a terminal only each phase's final line is written."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream
        self.live = bool(stream is not None and stream.isatty())
        self.phase = ""
        self.unit = "rows"
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.shown = 0.0
        self.timings: dict[str, float] = {}

    def start(self, phase: str, total: int, unit: str = "rows") -> None:
        self.phase, self.total, self.done, self.unit = phase, total, 0, unit
        self.started = self.shown = time.monotonic()
        self._show(final=False)

    def advance(self, done: int) -> None:
        self.done += done
        now = time.monotonic()
        if self.live and now - self.shown >= 0.25:
            self.shown = now
            self._show(final=False)

    def finish(self) -> None:
        self.timings[self.phase] = time.monotonic() - self.started
        self._show(final=True)

    def _show(self, *, final: bool) -> None:
        if self.stream is None or not (self.live or final):
            return
        elapsed = time.monotonic() - self.started
        rate = f"{self.done / elapsed:>11,.0f} {self.unit}/s" if elapsed > 0 else ""
        line = (
            f"{self.phase:<14} {self.done:>12,} / {self.total:<12,} {self.unit:<7}"
            f" {elapsed:7.1f} s {rate}"
        )
        self.stream.write(("\r" if self.live else "") + line + ("\n" if final else ""))
        self.stream.flush()


# --- Loading into the database ----------------------------------------------------------------


def _columns(model: type[models.Model], attnames: list[str]) -> tuple[str, list[str]]:
    """The table and columns for `attnames`, which must be every concrete field of `model`:
    a field added later must be filled here too, not left to a default the database lacks."""
    concrete = {f.attname for f in model._meta.concrete_fields}
    if set(attnames) != concrete:
        raise OutOfDate(
            f"bench_data does not fill the fields {sorted(concrete - set(attnames))} of "
            f"{model.__name__} (or fills unknown ones {sorted(set(attnames) - concrete)}): "
            "update plaza/operations/benchdata.py to match the model."
        )
    columns = []
    for name in attnames:
        model_field = model._meta.get_field(name)
        if not isinstance(model_field, models.Field):  # unreachable: checked above
            raise TypeError(name)
        columns.append(model_field.column)
    return model._meta.db_table, columns


class Loader:
    """Streams rows into tables, in bulk, the fastest way the database offers.

    `session` drops the loaded tables' secondary indexes (all but the primary keys and
    unique constraints) for the load and builds them again at the end: sorting is far
    cheaper than millions of random B-tree inserts.
    """

    timestamp_suffix = ""

    def transaction(self) -> AbstractContextManager[object]:
        """The transaction around the whole load, if there is one."""
        return nullcontext()

    @contextmanager
    def session(self, tables: list[str], progress: Progress) -> Iterator[None]:
        with self.transaction():
            indexes = self.secondary_indexes(tables)
            with connection.cursor() as cursor:
                for name, _definition in indexes:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            try:
                yield
            except Exception:
                self.restore_indexes(indexes)
                raise
            self.prepare_index_builds()
            progress.start("indexes", len(indexes), unit="indexes")
            with connection.cursor() as cursor:
                for _name, definition in indexes:
                    cursor.execute(definition)
                    progress.advance(1)
            progress.finish()

    def secondary_indexes(self, tables: list[str]) -> list[tuple[str, str]]:
        """(name, CREATE INDEX statement) of each index of `tables` that backs no constraint."""
        raise NotImplementedError

    def restore_indexes(self, indexes: list[tuple[str, str]]) -> None:
        """Put the dropped indexes back after a failed load, unless the rollback does."""

    def prepare_index_builds(self) -> None:
        """Settings for building the indexes once the rows are in."""

    def load(
        self,
        model: type[models.Model],
        attnames: list[str],
        batches: Iterable[list[tuple[Any, ...]]],
        progress: Progress,
    ) -> None:
        raise NotImplementedError

    def finish(self, tables: list[str], progress: Progress) -> None:
        """Work after the load has committed."""

    failure_advice = "Nothing was kept: run the command again."


class SQLiteLoader(Loader):
    """executemany of raw INSERTs, committed every COMMIT_ROWS rows, with synchronous writes
    off (the journal stays WAL), a large page cache, and foreign keys unchecked: the
    generator builds every reference from rows it wrote itself, and tests/test_bench_data.py
    runs SQLite's foreign_key_check on its output.

    Not one transaction: in WAL mode a transaction's pages all go to the WAL before they
    reach the database file, and at a million posts a single transaction made a 6 GB WAL
    that every later read had to search. A failed load leaves a partial database behind.
    """

    COMMIT_ROWS = 500_000
    LOAD_PRAGMAS = {
        "synchronous": "OFF",
        "foreign_keys": "OFF",  # only takes effect outside a transaction, so set first
        # 1 GiB, only used as the data grows: the indexes that grow in random order (the
        # follows' and likes' ids) stay in memory.
        "cache_size": "-1048576",
        # Listed to be restored afterwards: the index builds change them.
        "threads": "0",
        "temp_store": "DEFAULT",
    }
    # Measured at a million posts: 12 s to build the notifications' recipient index with
    # these, 48 s with a 2 GiB cache and in-memory temporary storage.
    INDEX_PRAGMAS = {"cache_size": "-65536", "threads": "2", "temp_store": "FILE"}
    failure_advice = (
        "The database now holds part of a network: delete the file (or point DATABASE_URL "
        "at a new one), run `manage.py migrate`, then this command again."
    )

    @contextmanager
    def session(self, tables: list[str], progress: Progress) -> Iterator[None]:
        with connection.cursor() as cursor:
            saved = {}
            for pragma, value in self.LOAD_PRAGMAS.items():
                saved[pragma] = cursor.execute(f"PRAGMA {pragma}").fetchone()[0]
                cursor.execute(f"PRAGMA {pragma} = {value}")
        try:
            with super().session(tables, progress):
                yield
        finally:
            with connection.cursor() as cursor:
                for pragma, value in saved.items():
                    cursor.execute(f"PRAGMA {pragma} = {value}")

    def secondary_indexes(self, tables: list[str]) -> list[tuple[str, str]]:
        placeholders = ", ".join(["%s"] * len(tables))
        with connection.cursor() as cursor:
            # Indexes SQLite makes for PRIMARY KEY and UNIQUE constraints have no SQL.
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
                f"AND tbl_name IN ({placeholders}) ORDER BY tbl_name, name",
                tables,
            )
            return list(cursor.fetchall())

    def prepare_index_builds(self) -> None:
        with connection.cursor() as cursor:
            for pragma, value in self.INDEX_PRAGMAS.items():
                cursor.execute(f"PRAGMA {pragma} = {value}")

    def restore_indexes(self, indexes: list[tuple[str, str]]) -> None:
        # The schema stays what migrations made, even around a partial network.
        with connection.cursor() as cursor:
            for name, definition in indexes:
                cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [name])
                if cursor.fetchone() is None:
                    with suppress(DatabaseError):
                        cursor.execute(definition)

    def load(
        self,
        model: type[models.Model],
        attnames: list[str],
        batches: Iterable[list[tuple[Any, ...]]],
        progress: Progress,
    ) -> None:
        table, columns = _columns(model, attnames)
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from _meta
            quote(table), ", ".join(map(quote, columns)), ", ".join(["?"] * len(columns))
        )
        connection.ensure_connection()
        raw = connection.connection  # the sqlite3 connection itself: no wrapper per batch
        # Inside an outer transaction (a test's) the rows simply join it.
        own_transactions = not connection.in_atomic_block
        uncommitted = 0
        if own_transactions:
            raw.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                raw.executemany(sql, batch)
                progress.advance(len(batch))
                uncommitted += len(batch)
                if own_transactions and uncommitted >= self.COMMIT_ROWS:
                    raw.execute("COMMIT")
                    raw.execute("BEGIN IMMEDIATE")
                    uncommitted = 0
            if own_transactions:
                raw.execute("COMMIT")
        except BaseException:
            if own_transactions and raw.in_transaction:
                raw.execute("ROLLBACK")
            raise


class PostgresLoader(Loader):
    """COPY ... FROM STDIN, all in one transaction: a failed or interrupted load leaves the
    database as empty as it was. Primary keys, unique constraints and foreign keys are
    dropped with the secondary indexes (as are foreign keys of other tables that point at
    the loaded ones) and added back at the end: each index is then built by one sort, and
    each foreign key checked by one join, rather than row by row."""

    timestamp_suffix = "+00"

    def transaction(self) -> AbstractContextManager[object]:
        return transaction.atomic()

    @contextmanager
    def session(self, tables: list[str], progress: Progress) -> Iterator[None]:
        quote = connection.ops.quote_name
        with self.transaction():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                names = [quote(table) for table in tables]
                cursor.execute(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                    "contype FROM pg_constraint "
                    "WHERE (conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u', 'f')) "
                    "OR (contype = 'f' AND confrelid = ANY(%s::regclass[])) "
                    # Keys before the foreign keys that need them; dropped the other way.
                    "ORDER BY contype = 'f', 1, 2",
                    [names, names],
                )
                constraints = list(cursor.fetchall())
                for table, name, _definition, _kind in reversed(constraints):
                    cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
            with super().session(tables, progress):
                yield
            progress.start("constraints", len(constraints), unit="constraints")
            with connection.cursor() as cursor:
                for table, name, definition, _kind in constraints:
                    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
                    progress.advance(1)
            progress.finish()

    def secondary_indexes(self, tables: list[str]) -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = ANY(%s::regclass[]) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) "
                "ORDER BY 1",
                [[connection.ops.quote_name(table) for table in tables]],
            )
            return list(cursor.fetchall())

    def load(
        self,
        model: type[models.Model],
        attnames: list[str],
        batches: Iterable[list[tuple[Any, ...]]],
        progress: Progress,
    ) -> None:
        table, columns = _columns(model, attnames)
        quote = connection.ops.quote_name
        statement = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            write_row = copy.write_row
            for batch in batches:
                for row in batch:
                    write_row(row)
                progress.advance(len(batch))

    def finish(self, tables: list[str], progress: Progress) -> None:
        # Statistics for the planner and a visibility map for index-only scans: autovacuum
        # would get there eventually, in the middle of a benchmark.
        if connection.in_atomic_block:  # VACUUM cannot run in a transaction (tests)
            return
        progress.start("vacuum", len(tables), unit="tables")
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
                progress.advance(1)
        progress.finish()


def failure_advice() -> str:
    """What to do after a load failed or was interrupted."""
    return loader_for_database().failure_advice


def loader_for_database() -> Loader:
    if connection.vendor == "sqlite":
        return SQLiteLoader()
    if connection.vendor == "postgresql":
        return PostgresLoader()
    raise NotImplementedError(f"bench_data supports SQLite and PostgreSQL, not {connection.vendor}")


# --- The network ------------------------------------------------------------------------------


@dataclass
class Result:
    """What was built, for the report and the tokens file."""

    users: int = 0
    follows: int = 0
    posts: int = 0
    likes: int = 0
    comments: int = 0
    notifications: int = 0
    unread_notifications: int = 0
    viewer_follows: int = 0
    median_following: int = 0
    top_followers: list[tuple[str, int]] = field(default_factory=list)
    tokens: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Made:
    """What the process that made the rows tells the one that loaded them. Accounts are
    numbered as in NetworkBuilder."""

    follows: int
    likes: int
    comments: int
    notifications: int
    unread_notifications: int
    viewer_follows: int
    median_following: int
    top_followers: list[tuple[int, int]]
    celebrity_followers: list[int]
    token_users: list[int]
    post_ids: list[int]


class DatabaseNotEmpty(Exception):
    pass


class OutOfDate(Exception):
    """The generator does not know every field of a model it writes."""


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _truncated_pareto(rng: random.Random, low: int, high: int, alpha: float) -> int:
    tail = 1.0 - (low / high) ** alpha
    return int(low / (1.0 - rng.random() * tail) ** (1.0 / alpha))


def _after(rng: random.Random, start: int, end: int, mean_delay: int) -> int:
    """A moment after `start` (`mean_delay` after it on average), no later than `end`."""
    moment = start + int(rng.expovariate(1.0) * mean_delay)
    if moment > end:
        moment = start + int(rng.random() * (end - start))
    return moment


@dataclass
class Table:
    """The rows of one table, made lazily, with values in the order of FIELDS[model]."""

    phase: str
    model: type[models.Model]
    total: int
    rows: Iterator[tuple[Any, ...]]


# The fields each row fills, in order: every concrete field of the model (checked before
# anything is written, so that a field added to a model is not silently left out).
FIELDS: dict[type[models.Model], list[str]] = {
    User: [
        "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
        "email", "is_staff", "is_active", "date_joined", "display_name", "bio", "avatar",
        "header", "profile_fields", "email_verified_at", "is_private", "followers_count",
        "following_count", "posts_count", "muting_count", "blocking_count", "blocked_by_count",
    ],
    Follow: ["id", "follower_id", "followee_id", "created_at"],
    Post: [
        "id", "author_id", "title", "content", "spoiler_text", "sensitive", "entities",
        "visibility", "edited_at", "created_at", "updated_at", "likes_count", "comments_count",
        "reposts_count",
    ],
    Like: ["id", "user_id", "post_id", "created_at"],
    Comment: ["id", "author_id", "post_id", "content", "created_at", "updated_at"],
    Notification: [
        "id", "recipient_id", "actor_id", "kind", "target_type_id", "target_id", "read",
        "created_at",
    ],
}  # fmt: skip
LOADED_MODELS = list(FIELDS)
KIND_FOLLOW, KIND_LIKE, KIND_COMMENT = 0, 1, 2
EVENT_BUCKET_SHIFT = TIMESTAMP_SHIFT + 22  # notifications are written in ~70-minute buckets


class NetworkBuilder:
    """Builds the network: `plan_users` in the calling process, then each table's rows
    (`tables`), made lazily, possibly in a forked producer process (`load_from_producer`),
    and loaded by the calling one. Accounts, posts and events are numbered from 0 in arrays;
    `user_ids`, `post_ids` and the like map those numbers to the rows' ids."""

    def __init__(
        self, *, users: int, posts: int, seed: int, progress: Progress, loader: Loader
    ) -> None:
        if users < 2 or posts < 0:
            raise ValueError("A network needs at least 2 users and no negative posts.")
        self.n = users
        self.post_total = posts
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.progress = progress
        self.loader = loader
        self.suffix = loader.timestamp_suffix
        # Everything happened at least a minute ago: ids the server issues from now on sort
        # after (and never equal) the generated ones.
        self.end_ms = int(time.time() * 1000) - EPOCH_MS - MINUTE_MS
        self.viewer = 0  # the oldest account

    def plan_users(self) -> None:
        rng, n = self.rng, self.n
        oldest, newest = USERS_JOINED_DAYS
        start, stop = self.end_ms - oldest * DAY_MS, self.end_ms - newest * DAY_MS
        stamp = stamper(n, self.suffix)
        self.joined = array("q")
        self.user_ids = array("q")
        self.joined_texts: list[str] = []
        for joined in sorted(rng.randrange(start, stop) for _ in range(n)):
            user_id, text = stamp(joined)
            self.user_ids.append(user_id)
            self.joined.append(user_id >> TIMESTAMP_SHIFT)
            self.joined_texts.append(text)
        # Popularity is independent of seniority: ranks are a random permutation.
        ranking = list(range(n))
        rng.shuffle(ranking)
        ranking.remove(self.viewer)
        self.celebrities = ranking[: celebrity_count(n)]
        self.ordinary = ranking[len(self.celebrities) :]
        # The viewer is a fairly popular ordinary account: a real audience, likes and
        # notifications, but no celebrity.
        self.ordinary.insert(int(len(self.ordinary) * VIEWER_POPULARITY), self.viewer)
        self.usernames = [f"{rng.choice(_FIRST_NAMES)}{index}" for index in range(n)]
        self.usernames[self.viewer] = VIEWER_USERNAME
        for rank, index in enumerate(self.celebrities):
            self.usernames[index] = f"celebrity{rank + 1}"

    # -- the tables' rows (made in the producer process when there is one) ------------------

    def tables(self) -> Iterator[Table]:
        """Each table's rows, in loading order. Each table's rows must be consumed before
        the next table is asked for: later tables use what the earlier ones drew."""
        yield self.follows_table()  # first: the accounts' counters depend on the follows
        self.plan_posts()
        yield self.users_table()
        yield self.posts_table()
        yield self.likes_table()
        yield self.comments_table()
        yield self.notifications_table()

    def _wanted_follows(self, index: int) -> int:
        rng = self.rng
        if index == self.viewer:
            wanted = VIEWER_FOLLOWS
        elif rng.random() < LIGHT_USERS:
            wanted = rng.randrange(FOLLOWS_MIN)
        else:
            wanted = _truncated_pareto(rng, FOLLOWS_MIN, FOLLOWS_MAX, FOLLOWS_ALPHA)
        return min(wanted, self.n - 1)

    def _followees(self, index: int, wanted: int, draw: Callable[[int], list[int]]) -> list[int]:
        """`wanted` distinct accounts for `index` to follow: each celebrity by its share,
        the rest drawn by popularity."""
        rng = self.rng
        chosen = [c for c, share in self.celebrity_shares if c != index and rng.random() < share]
        if index == self.viewer:  # the viewer's feed always has the largest accounts
            top = self.celebrities[:CELEBRITY_TOKENS]
            chosen = top + [c for c in chosen if c not in top]
        del chosen[wanted:]
        seen = set(chosen)
        missing = wanted - len(chosen)
        rounds = 0
        while missing > 0 and rounds < 8:
            rounds += 1
            for candidate in draw(missing + 8):
                if candidate != index and candidate not in seen:
                    seen.add(candidate)
                    chosen.append(candidate)
                    missing -= 1
                    if not missing:
                        break
        if missing:  # nearly everyone is followed already: pick among the rest
            rest = [c for c in range(self.n) if c != index and c not in seen]
            chosen += rng.sample(rest, missing)
        chosen.sort()  # the (follower, followee) unique index then grows in order
        return chosen

    def follows_table(self) -> Table:
        """Who follows whom, drawn follower by follower as the rows are made."""
        rng, n, ordinary = self.rng, self.n, self.ordinary
        # Zipf by popularity rank, mixed with a uniform share so that every account has
        # some chance of an audience.
        zipf = [1.0 / (rank + ZIPF_OFFSET) for rank in range(len(ordinary))]
        zipf_total = sum(zipf)
        uniform = ZIPF_UNIFORM_SHARE / max(1, len(ordinary))
        cumulative: list[float] = []
        running = 0.0
        for weight in zipf:
            running += (1 - ZIPF_UNIFORM_SHARE) * weight / zipf_total + uniform
            cumulative.append(running)
        self.celebrity_shares = [
            (index, celebrity_share(rank)) for rank, index in enumerate(self.celebrities)
        ]
        wanted = [self._wanted_follows(index) for index in range(n)]
        total = sum(wanted)

        def draw(count: int) -> list[int]:
            return rng.choices(ordinary, cum_weights=cumulative, k=count)

        self.followers = array("i")  # per follow, in the order written
        self.followees = array("i")
        self.follow_ids = array("q")
        self.followers_of: list[list[int]] = [[] for _ in range(n)]
        self.following_count = array("i", wanted)
        self.followers_count = array("i", bytes(4 * n))
        stamp = stamper(total, self.suffix)
        joined, end_ms, random_, user_ids = self.joined, self.end_ms, rng.random, self.user_ids

        def rows() -> Iterator[tuple[Any, ...]]:
            followers_of, followers_count = self.followers_of, self.followers_count
            for follower in range(n):
                chosen = self._followees(follower, wanted[follower], draw)
                self.followees.extend(chosen)
                self.followers.extend([follower] * len(chosen))
                follower_id, follower_joined = user_ids[follower], joined[follower]
                for followee in chosen:
                    followers_of[followee].append(follower)
                    followers_count[followee] += 1
                    # Some time after both accounts existed.
                    since = max(follower_joined, joined[followee])
                    follow_id, created = stamp(since + int(random_() * (end_ms - since)))
                    self.follow_ids.append(follow_id)
                    yield follow_id, follower_id, user_ids[followee], created

        return Table("follows", Follow, total, rows())

    def plan_posts(self) -> None:
        """Who posts when. How many likes and comments each post gets is drawn as its row
        is made, from its author's audience."""
        rng, n, total = self.rng, self.n, self.post_total
        activity = [
            0.0 if rng.random() < LURKERS else min(MAX_ACTIVITY, rng.paretovariate(ACTIVITY_ALPHA))
            for _ in range(n)
        ]
        activity[self.viewer] = VIEWER_ACTIVITY
        self.post_authors = array("i", rng.choices(range(n), weights=activity, k=total))
        # In time order, as a live server would have written them.
        start = self.end_ms - POSTS_DAYS * DAY_MS
        times = sorted(rng.randrange(start, self.end_ms) for _ in range(total))
        stamp = stamper(total, self.suffix)
        self.post_ids = array("q", (stamp(ms)[0] for ms in times))
        self.posts_count = array("i", bytes(4 * n))
        for author in self.post_authors:
            self.posts_count[author] += 1

    def users_table(self) -> Table:
        rng, texts, password = self.rng, self.texts, self.password
        celebrities = set(self.celebrities)

        def rows() -> Iterator[tuple[Any, ...]]:
            for index in range(self.n):
                username = self.usernames[index]
                if index == self.viewer:
                    display_name = "Bench Viewer"
                else:
                    first = rng.choice(_FIRST_NAMES) if index in celebrities else username
                    first = first.rstrip("0123456789").title()
                    display_name = f"{first} {rng.choice(_LAST_NAMES).title()}"
                bio = rng.choice(texts.bios) if rng.random() < 0.5 else ""
                yield (
                    self.user_ids[index], password, None, False, username, "", "",
                    f"{username}@bench.example", False, True, self.joined_texts[index],
                    display_name, bio, "", "", "[]",
                    self.joined_texts[index],  # verified on joining
                    # Public, every one: the load generator likes and reads sample users'
                    # posts at random, which a private author would refuse (404).
                    False,
                    self.followers_count[index], self.following_count[index],
                    self.posts_count[index], 0, 0, 0,  # nobody mutes or blocks
                )  # fmt: skip

        return Table("users", User, self.n, rows())

    def posts_table(self) -> Table:
        rng, n, texts, text_at = self.rng, self.n, self.texts, _clock(self.suffix).text
        post_ids, authors, user_ids = self.post_ids, self.post_authors, self.user_ids
        # Engagement follows the audience: a celebrity's post collects hundreds of likes.
        appeal = [(count + 1) ** AUDIENCE_EXPONENT for count in self.followers_count]
        mean_appeal = sum(appeal[a] for a in authors) / max(1, self.post_total)
        self.likes_count, self.comments_count = array("i"), array("i")

        def rows() -> Iterator[tuple[Any, ...]]:
            titles, contents, choice = texts.titles, texts.contents, rng.choice
            for index in range(self.post_total):
                post_id, author = post_ids[index], authors[index]
                scale = appeal[author] / mean_appeal * rng.gammavariate(2.0, 0.5)
                likes = min(n - 1, _poisson(rng, LIKES_PER_POST * scale))
                comments = min(MAX_COMMENTS_PER_POST, _poisson(rng, COMMENTS_PER_POST * scale))
                self.likes_count.append(likes)
                self.comments_count.append(comments)
                created = text_at(post_id >> TIMESTAMP_SHIFT)
                # Public, as their authors are (the load generator reads posts at random);
                # no reposts yet (the generator makes none).
                yield (
                    post_id, user_ids[author], choice(titles), choice(contents), "", False,
                    "[]", Visibility.PUBLIC.value, None, created, created, likes, comments, 0,
                )  # fmt: skip

        return Table("posts", Post, self.post_total, rows())

    def _audience(self, author: int, wanted: int, *, distinct: bool) -> list[int]:
        """`wanted` accounts reacting to a post of `author`'s: mostly followers, never the
        author; distinct when each may react only once (likes)."""
        rng, n = self.rng, self.n
        followers = self.followers_of[author]
        from_followers = min(len(followers), round(wanted * FROM_FOLLOWERS))
        if not distinct:
            chosen = [rng.choice(followers) for _ in range(from_followers)]
            while len(chosen) < wanted:
                candidate = rng.randrange(n)
                if candidate != author:
                    chosen.append(candidate)
            return chosen
        chosen = rng.sample(followers, from_followers) if from_followers else []
        seen = set(chosen)
        attempts = 0
        while len(chosen) < wanted and attempts < 4 * wanted + 20:
            attempts += 1
            candidate = rng.randrange(n)
            if candidate != author and candidate not in seen:
                seen.add(candidate)
                chosen.append(candidate)
        if len(chosen) < wanted:  # nearly everyone reacted already: pick among the rest
            rest = [c for c in range(n) if c != author and c not in seen]
            chosen += rng.sample(rest, wanted - len(chosen))
        return chosen

    def likes_table(self) -> Table:
        total = sum(self.likes_count)
        stamp = stamper(total, self.suffix)
        self.like_users, self.like_posts, self.like_ids = array("i"), array("i"), array("q")
        rng, end_ms, user_ids = self.rng, self.end_ms, self.user_ids

        def rows() -> Iterator[tuple[Any, ...]]:
            for post in range(self.post_total):
                wanted = self.likes_count[post]
                if not wanted:
                    continue
                post_id, posted = self.post_ids[post], self.post_ids[post] >> TIMESTAMP_SHIFT
                for user in self._audience(self.post_authors[post], wanted, distinct=True):
                    like_id, created = stamp(_after(rng, posted, end_ms, LIKE_DELAY_MS))
                    self.like_users.append(user)
                    self.like_posts.append(post)
                    self.like_ids.append(like_id)
                    yield like_id, user_ids[user], post_id, created

        return Table("likes", Like, total, rows())

    def comments_table(self) -> Table:
        total = sum(self.comments_count)
        stamp = stamper(total, self.suffix)
        self.comment_users, self.comment_posts = array("i"), array("i")
        self.comment_ids = array("q")
        rng, end_ms, user_ids, texts = self.rng, self.end_ms, self.user_ids, self.texts

        def rows() -> Iterator[tuple[Any, ...]]:
            for post in range(self.post_total):
                wanted = self.comments_count[post]
                if not wanted:
                    continue
                author, post_id = self.post_authors[post], self.post_ids[post]
                posted = post_id >> TIMESTAMP_SHIFT
                for reader in self._audience(author, wanted, distinct=False):
                    # Now and then the author answers in their own thread.
                    user = author if rng.random() < SELF_REPLIES else reader
                    comment_id, created = stamp(_after(rng, posted, end_ms, COMMENT_DELAY_MS))
                    self.comment_users.append(user)
                    self.comment_posts.append(post)
                    self.comment_ids.append(comment_id)
                    content = rng.choice(texts.comments)
                    yield comment_id, user_ids[user], post_id, content, created, created

        return Table("comments", Comment, total, rows())

    def notifications_table(self) -> Table:
        """One notification per follow, like and comment, except for one's own comments,
        at the event's time. They are written in time order, bucket by bucket, as a live
        server would have: each index then grows in a few places rather than everywhere."""
        rng, n, end_ms, user_ids = self.rng, self.n, self.end_ms, self.user_ids
        authors = self.post_authors
        buckets: dict[int, array[int]] = {}

        def sort_in(kind: int, event_ids: array[int], skip: Callable[[int], bool]) -> int:
            count = 0
            for position, event_id in enumerate(event_ids):
                if skip(position):
                    continue
                key = event_id >> EVENT_BUCKET_SHIFT
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = array("q")
                bucket.append(position << 2 | kind)
                count += 1
            return count

        def never(_position: int) -> bool:
            return False

        def own_comment(position: int) -> bool:
            return self.comment_users[position] == authors[self.comment_posts[position]]

        total = (
            sort_in(KIND_FOLLOW, self.follow_ids, never)
            + sort_in(KIND_LIKE, self.like_ids, never)
            + sort_in(KIND_COMMENT, self.comment_ids, own_comment)
        )
        # Each account last looked at its notifications some time ago: older ones are read.
        last_visit = [end_ms - int(rng.expovariate(1.0) * LAST_VISIT_MEAN_MS) for _ in range(n)]
        names = {
            KIND_FOLLOW: NotificationKind.FOLLOW.value,
            KIND_LIKE: NotificationKind.LIKE.value,
            KIND_COMMENT: NotificationKind.COMMENT.value,
        }
        # Per kind: the event's recipients (None: the post's author), actors and ids.
        events = {
            KIND_FOLLOW: (self.followees, self.followers, self.follow_ids),
            KIND_LIKE: (None, self.like_users, self.like_ids),
            KIND_COMMENT: (None, self.comment_users, self.comment_ids),
        }
        event_posts = {KIND_LIKE: self.like_posts, KIND_COMMENT: self.comment_posts}
        stamp = stamper(total, self.suffix)
        types = self.content_types
        self.notification_total, self.unread = total, 0

        def rows() -> Iterator[tuple[Any, ...]]:
            for key in sorted(buckets):
                for code in buckets.pop(key):
                    kind, position = code & 3, code >> 2
                    recipients, actors, targets = events[kind]
                    if recipients is None:
                        recipient = authors[event_posts[kind][position]]
                    else:
                        recipient = recipients[position]
                    target_id = targets[position]
                    notification_id, created = stamp(target_id >> TIMESTAMP_SHIFT)
                    read = (notification_id >> TIMESTAMP_SHIFT) <= last_visit[recipient]
                    self.unread += not read
                    yield (
                        notification_id, user_ids[recipient], user_ids[actors[position]],
                        names[kind], types[kind], target_id, read, created,
                    )  # fmt: skip

        return Table("notifications", Notification, total, rows())

    def made(self) -> Made:
        """What only the process that made the rows knows, for the one that loads them."""
        rng, n = self.rng, self.n
        eligible = [
            index
            for index in self.ordinary
            if index != self.viewer and self.following_count[index] >= min(FOLLOWS_MIN, n // 2)
        ]
        most_followed = sorted(range(n), key=self.followers_count.__getitem__)[-5:]
        post_sample = rng.sample(range(self.post_total), min(SAMPLE_POST_IDS, self.post_total))
        return Made(
            follows=len(self.followees),
            likes=len(self.like_ids),
            comments=len(self.comment_ids),
            notifications=self.notification_total,
            unread_notifications=self.unread,
            viewer_follows=self.following_count[self.viewer],
            median_following=sorted(self.following_count)[n // 2],
            top_followers=[(i, self.followers_count[i]) for i in most_followed[::-1]],
            celebrity_followers=[
                self.followers_count[i] for i in self.celebrities[:CELEBRITY_TOKENS]
            ],
            token_users=rng.sample(eligible, min(SAMPLE_TOKEN_USERS, len(eligible))),
            post_ids=[self.post_ids[index] for index in post_sample],
        )

    # -- loading -----------------------------------------------------------------------------

    def _load(self, table: Table, batches: Iterable[list[tuple[Any, ...]]]) -> None:
        progress = self.progress
        progress.start(table.phase, table.total)
        self.loader.load(table.model, FIELDS[table.model], batches, progress)
        if progress.done != table.total:
            raise AssertionError(f"{table.phase}: wrote {progress.done:,} of {table.total:,}")
        progress.finish()

    def load_here(self) -> Made:
        """Make the rows and load them in this process."""
        for table in self.tables():
            self._load(table, _batches(table.rows))
        return self.made()

    def load_from_producer(self) -> Made:
        """Make the rows in a forked process and load them in this one: on two cores,
        making rows and inserting them overlap. The producer only computes and sends
        batches through a pipe; it never touches the database connection it inherited."""
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        producer = context.Process(target=self._produce, args=(sender,), daemon=True)
        producer.start()
        sender.close()
        try:
            while True:
                message = self._receive(receiver)
                if message[0] == "done":
                    made: Made = message[1]
                    return made
                _kind, phase, label, total = message
                table = Table(phase, apps.get_model(label), total, iter(()))
                self._load(table, self._received_batches(receiver))
        finally:
            receiver.close()
            producer.join(timeout=5)
            if producer.is_alive():
                producer.terminate()
                producer.join()

    def _produce(self, sender: Connection) -> None:
        try:
            for table in self.tables():
                label = table.model._meta.label
                sender.send(("table", table.phase, label, table.total))
                for batch in _batches(table.rows):
                    sender.send(("rows", batch))
                sender.send(("end",))
            sender.send(("done", self.made()))
        except (KeyboardInterrupt, BrokenPipeError):
            pass  # the loading process was interrupted too, or gave up: it says why
        except BaseException:
            with suppress(OSError):
                sender.send(("error", traceback.format_exc()))
        finally:
            sender.close()

    @staticmethod
    def _receive(receiver: Connection) -> tuple[Any, ...]:
        try:
            message: tuple[Any, ...] = receiver.recv()
        except EOFError:
            raise RuntimeError("The process making the rows ended unexpectedly.") from None
        if message[0] == "error":
            raise RuntimeError(f"The process making the rows failed:\n{message[1]}")
        return message

    def _received_batches(self, receiver: Connection) -> Iterator[list[tuple[Any, ...]]]:
        while (message := self._receive(receiver))[0] == "rows":
            yield message[1]
        if message[0] != "end":
            raise RuntimeError(f"Unexpected message from the process making rows: {message[0]}")

    def write_tokens(self, made: Made) -> dict[str, Any]:
        """API tokens for the viewer, a few celebrities and a sample of ordinary accounts
        that follow enough others for a full feed. Created through the ORM: they are few."""
        celebrities = self.celebrities[:CELEBRITY_TOKENS]
        holders = [self.viewer, *celebrities, *made.token_users]
        self.progress.start("tokens", len(holders))
        now = timezone.now()
        raw_tokens: dict[int, str] = {}
        rows = []
        for index in holders:
            raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
            raw_tokens[index] = raw
            rows.append(
                AuthToken(
                    user_id=self.user_ids[index],
                    digest=hash_token(raw),
                    hint=raw[:12],
                    device=TOKEN_DEVICE,
                    created_at=now,
                    last_used_at=now,
                )
            )
        AuthToken.objects.bulk_create(rows)
        self.progress.advance(len(rows))
        self.progress.finish()

        def entry(index: int) -> dict[str, Any]:
            return {"username": self.usernames[index], "token": raw_tokens[index]}

        return {
            "viewer": entry(self.viewer),
            "users": [entry(index) for index in made.token_users],
            # The accounts with the largest audiences, for fan-out benchmarks.
            "celebrities": [
                {**entry(index), "followers": followers}
                for index, followers in zip(celebrities, made.celebrity_followers, strict=True)
            ],
            "post_ids": [str(post_id) for post_id in made.post_ids],
        }

    def build(self, *, parallel: bool = True) -> Result:
        for model, attnames in FIELDS.items():
            _columns(model, attnames)  # fails now rather than half-way through the load
        self.texts = Texts.build(self.rng)
        self.plan_users()
        # What needs the database or is slow to compute, settled before any fork.
        self.password = make_password(BENCH_PASSWORD)
        self.content_types = {
            kind: ContentType.objects.get_for_model(model).pk
            for kind, model in ((KIND_FOLLOW, Follow), (KIND_LIKE, Like), (KIND_COMMENT, Comment))
        }
        tables = [model._meta.db_table for model in LOADED_MODELS]
        parallel = parallel and "fork" in multiprocessing.get_all_start_methods()
        with self.loader.session(tables, self.progress):
            made = self.load_from_producer() if parallel else self.load_here()
            tokens = self.write_tokens(made)
        self.loader.finish(tables, self.progress)
        return Result(
            users=self.n,
            follows=made.follows,
            posts=self.post_total,
            likes=made.likes,
            comments=made.comments,
            notifications=made.notifications,
            unread_notifications=made.unread_notifications,
            viewer_follows=made.viewer_follows,
            median_following=made.median_following,
            top_followers=[(self.usernames[i], count) for i, count in made.top_followers],
            tokens=tokens,
            timings=dict(self.progress.timings),
        )


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while batch := list(islice(rows, BATCH_ROWS)):
        yield batch


def ensure_empty() -> None:
    existing = User.objects.count()
    if existing:
        raise DatabaseNotEmpty(f"The database already holds {existing:,} accounts.")


def generate(
    *,
    users: int,
    posts: int,
    seed: int = 1,
    size_name: str = "custom",
    tokens_file: Path | None = None,
    progress_stream: Stream | None = sys.stderr,
    parallel: bool = True,
) -> Result:
    """Build the network into the empty default database; write the tokens file if asked.

    Raises DatabaseNotEmpty when any account exists: the generator computes every counter
    and notification from what it writes itself, so it cannot add to an existing network.
    """
    ensure_empty()
    progress = Progress(progress_stream)
    builder = NetworkBuilder(
        users=users, posts=posts, seed=seed, progress=progress, loader=loader_for_database()
    )
    result = builder.build(parallel=parallel)
    result.tokens = {"size": size_name, **result.tokens}
    if tokens_file is not None:
        tokens_file.parent.mkdir(parents=True, exist_ok=True)
        tokens_file.write_text(json.dumps(result.tokens, indent=1) + "\n")
        tokens_file.chmod(0o600)  # live credentials
    return result


def describe(result: Result) -> list[str]:
    """Human-readable lines summarising a generated network."""
    top = ", ".join(f"{name} {count:,}" for name, count in result.top_followers)
    return [
        f"users {result.users:,}, follows {result.follows:,}, posts {result.posts:,}, "
        f"likes {result.likes:,}, comments {result.comments:,}, "
        f"notifications {result.notifications:,} ({result.unread_notifications:,} unread)",
        f"median account follows {result.median_following:,}; "
        f"{VIEWER_USERNAME} follows {result.viewer_follows:,}; most followed: {top}",
    ]
