"""Snowflake ids: unique, time-ordered, 64-bit, and what makes "newest first" an ORDER BY id."""

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.core import ids
from plaza.core.ids import (
    MAX_ID,
    SnowflakeGenerator,
    datetime_from_id,
    id_from_datetime,
    next_id,
)
from plaza.posts.models import Post

THREADS = 16
IDS_PER_THREAD = 2_000


def test_ids_are_unique_across_many_threads() -> None:
    results: list[list[int]] = [[] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(slot: int) -> None:
        start.wait()
        results[slot].extend(next_id() for _ in range(IDS_PER_THREAD))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [value for chunk in results for value in chunk]
    assert len(everything) == THREADS * IDS_PER_THREAD
    assert len(set(everything)) == len(everything)
    # Each thread saw its own ids in increasing order too.
    for chunk in results:
        assert chunk == sorted(chunk)
        assert len(set(chunk)) == len(chunk)


def test_ids_strictly_increase_within_a_process() -> None:
    # More than the 1,024 ids one millisecond can hold, so the sequence wraps at least once.
    issued = [next_id() for _ in range(5_000)]
    assert all(earlier < later for earlier, later in itertools.pairwise(issued))


def test_ids_fit_a_signed_64_bit_integer() -> None:
    for value in (next_id() for _ in range(100)):
        assert 0 < value <= MAX_ID
        assert value < 2**63
    assert MAX_ID == 2**63 - 1
    # The largest timestamp the layout can hold still fits.
    latest = (
        ((1 << (63 - ids.TIMESTAMP_SHIFT)) - 1) << ids.TIMESTAMP_SHIFT
        | (ids.MAX_NODE << ids.SEQUENCE_BITS)
        | ids.MAX_SEQUENCE
    )
    assert latest <= MAX_ID


def test_sequence_overflow_waits_for_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"ns": 1_700_000_000_000 * 1_000_000}
    calls = {"sleep": 0}

    def fake_sleep(seconds: float) -> None:
        calls["sleep"] += 1
        clock["ns"] += 1_000_000  # the clock moves on while we wait

    monkeypatch.setattr(ids.time, "time_ns", lambda: clock["ns"])
    monkeypatch.setattr(ids.time, "sleep", fake_sleep)
    generator = SnowflakeGenerator(node=5)
    # One millisecond holds at most 1,024 ids (fewer: each starts at a random sequence).
    issued = [generator.next_id() for _ in range(ids.MAX_SEQUENCE + 3)]

    assert len(set(issued)) == len(issued)
    assert issued == sorted(issued)
    assert calls["sleep"] >= 1
    assert issued[-1] >> ids.TIMESTAMP_SHIFT == 1_700_000_000_001 - ids.EPOCH_MS
    assert {(value >> ids.SEQUENCE_BITS) & ids.MAX_NODE for value in issued} == {5}


def test_clock_stepping_back_never_reorders_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"ns": 1_700_000_000_000 * 1_000_000}
    monkeypatch.setattr(ids.time, "time_ns", lambda: clock["ns"])
    generator = SnowflakeGenerator(node=1)
    before = generator.next_id()
    clock["ns"] -= 5_000 * 1_000_000  # NTP steps the clock five seconds back
    after = [generator.next_id() for _ in range(10)]
    assert all(value > before for value in after)
    assert after == sorted(after)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 2, 29, 12, 30, 15, 123_000, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 999_000, tzinfo=UTC),  # past the 32-bit time_t end
        datetime(2020, 1, 1, 0, 0, 0, 1_000, tzinfo=UTC),  # just after the epoch
        datetime(2159, 1, 1, 0, 0, 0, tzinfo=UTC),  # the layout lasts until mid-2159
    ],
)
def test_datetime_round_trips_through_an_id(moment: datetime) -> None:
    snowflake = id_from_datetime(moment)
    assert 0 < snowflake <= MAX_ID
    assert abs(datetime_from_id(snowflake) - moment) < timedelta(milliseconds=1)


def test_datetime_from_a_fresh_id_is_now() -> None:
    before = datetime.now(tz=UTC)
    snowflake = next_id()
    after = datetime.now(tz=UTC)
    issued_at = datetime_from_id(snowflake)
    assert before - timedelta(milliseconds=1) <= issued_at <= after + timedelta(milliseconds=1)
    # id_from_datetime is a lower bound: every id issued at or after a moment is >= it.
    assert id_from_datetime(before - timedelta(milliseconds=1)) <= snowflake


def test_each_millisecond_starts_its_sequence_at_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes that drew the same node still rarely collide: their sequences start apart."""
    clock = {"ns": 1_700_000_000_000 * 1_000_000}
    monkeypatch.setattr(ids.time, "time_ns", lambda: clock["ns"])
    generator = SnowflakeGenerator(node=7)
    starts = set()
    for _ in range(50):
        clock["ns"] += 1_000_000
        starts.add(generator.next_id() & ids.MAX_SEQUENCE)
    assert len(starts) > 30
    assert max(starts) < ids.RANDOM_START_LIMIT


def test_a_forked_process_gets_its_own_node(monkeypatch: pytest.MonkeyPatch) -> None:
    parent_node = (next_id() >> ids.SEQUENCE_BITS) & ids.MAX_NODE
    nodes = set()
    for fake_pid in range(10**6, 10**6 + 20):
        monkeypatch.setattr(ids.os, "getpid", lambda pid=fake_pid: pid)
        nodes.add((next_id() >> ids.SEQUENCE_BITS) & ids.MAX_NODE)
    assert len(nodes | {parent_node}) > 10


@pytest.mark.django_db
def test_posts_created_later_sort_after_earlier_ones(
    user: User, make_client: Callable[[User], APIClient]
) -> None:
    client = make_client(user)
    created = []
    for number in range(25):
        response = client.post(
            "/api/posts/", {"title": f"post {number}", "content": "x"}, format="json"
        )
        assert response.status_code == 201
        created.append(response.json()["id"])

    assert all(isinstance(value, str) for value in created)
    numbers = [int(value) for value in created]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)

    stored = list(Post.objects.order_by("id").values_list("title", flat=True))
    assert stored == [f"post {number}" for number in range(25)]

    # Newest first, across a page boundary.
    first = client.get("/api/posts/").json()
    second = client.get(first["next"]).json()
    listed = [post["id"] for post in first["results"] + second["results"]]
    assert listed == list(reversed(created))
