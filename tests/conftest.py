from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.db import connection, transaction
from django.test import override_settings
from pytest_django import DjangoDbBlocker
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from plaza.accounts.models import User
from plaza.core.background import answer_thread
from plaza.core.redis import redis_client
from plaza.core.throttling import cache_outage
from tests import helpers
from tests.factories import UserFactory
from tests.helpers import QueryCount, SharedRows, client_for

# Far out of reach of any test, yet counted and reported in headers like real limits.
SUITE_RATE_LIMIT = 1_000_000

FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PLAIN_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the suite's uploads are stored: a directory of its own, never the checkout's."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def test_environment(request: pytest.FixtureRequest, media_root: Path) -> Iterator[None]:
    """Settings that make the suite fast and independent of `collectstatic`.

    * Argon2 costs ~0.2 s per password on purpose; tests that are about passwords opt back in
      with ``@pytest.mark.real_password_hashing`` (test_settings.py checks the real list).
    * Static files come from the apps through the finders, with plain (unhashed) names: the
      manifest only exists after `collectstatic`, which `make run` does and tests do not.
      AUTOREFRESH also spares WhiteNoise indexing every file for each new test client.
    * Rate limits: the whole suite is one client (127.0.0.1), and some tests hammer an
      endpoint on purpose (hostile input), so each scope allows SUITE_RATE_LIMIT requests per
      its usual period. Tests that are about rate limits opt back in to the configured ones
      with ``@pytest.mark.real_rate_limits``.
    """
    overrides: dict[str, object] = {
        # A WebSocket's first heartbeat comes at a random moment within this interval: a
        # ping in the middle of a test that waits for a given event (or for silence) would
        # make it fail at random. Tests about heartbeats set their own.
        "REALTIME_HEARTBEAT_SECONDS": 3600,
        "STORAGES": PLAIN_STORAGES,
        "MEDIA_ROOT": media_root,
        "WHITENOISE_USE_FINDERS": True,
        "WHITENOISE_AUTOREFRESH": True,
    }
    if request.node.get_closest_marker("real_password_hashing") is None:
        overrides["PASSWORD_HASHERS"] = FAST_PASSWORD_HASHERS
    if request.node.get_closest_marker("real_rate_limits") is None:
        from django.conf import settings

        overrides["THROTTLE_RATES"] = {
            scope: (SUITE_RATE_LIMIT, period)
            for scope, (_, period) in settings.THROTTLE_RATES.items()
        }
    with override_settings(**overrides):
        yield


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Every test starts with no request counted against the rate limits. The suite sends
    all its requests from 127.0.0.1, so counts would otherwise carry over from test to test
    (and a test that left the cache failing would switch throttling off for the next)."""
    cache.clear()
    cache_outage.reset()


@pytest.fixture(autouse=True)
def emails_sent_before_teardown() -> Iterator[None]:
    """An email a test caused leaves on a background thread (queue_after_answer): it lands in
    that test's outbox, never in the next test's."""
    yield
    assert answer_thread.wait_until_idle(timeout=30), "emails still being sent after 30 s"


def shared_rows(django_db_blocker: DjangoDbBlocker, media_root: Path) -> Iterator[SharedRows]:
    """A transaction around a module or a class, for rows that its tests share (as Django's
    setUpTestData does for a class). A fixture of that scope makes its rows inside
    `with module_db():` (or `class_db`); every test then runs in its own savepoint on top
    (pytest-django's per-test transaction nests inside this one), and the rows are rolled back
    after the scope's last test. Every test of the scope sees them, whether it asks or not."""

    @contextmanager
    def open_for_shared_rows() -> Iterator[None]:
        with (
            django_db_blocker.unblock(),
            override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS, MEDIA_ROOT=media_root),
        ):
            yield

    shared = transaction.atomic()
    with django_db_blocker.unblock():
        shared.__enter__()
    try:
        yield open_for_shared_rows
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            shared.__exit__(None, None, None)


@pytest.fixture(scope="module")
def module_db(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, media_root: Path
) -> Iterator[SharedRows]:
    yield from shared_rows(django_db_blocker, media_root)


@pytest.fixture(scope="class")
def class_db(
    module_db: SharedRows, django_db_blocker: DjangoDbBlocker, media_root: Path
) -> Iterator[SharedRows]:
    # Inside the module's transaction, whether or not the module shares rows, so that the
    # two always close in the order they opened.
    yield from shared_rows(django_db_blocker, media_root)


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client."""
    return APIClient()


@pytest.fixture
def make_client() -> Callable[[User], APIClient]:
    """Build a client signed in as a given user, with a real token in the header."""
    return client_for


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def client_for_user(user: User, make_client: Callable[[User], APIClient]) -> APIClient:
    return make_client(user)


@pytest.fixture
def count_queries() -> Callable[[Callable[[], object]], QueryCount]:
    """Run a callable and count the SQL queries it made (a wrong count shows them)."""
    return helpers.count_queries


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """A query count that is not what a test pinned shows the SQL it ran."""
    counts = [side for side in (left, right) if isinstance(side, QueryCount)]
    if op != "==" or not counts:
        return None
    lines = [f"{left!r} == {right!r}"]
    for count in counts:
        lines += [f"the {count!r}:", *count.explain()]
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse tests that share an id; skip tests marked `postgres` unless the database really
    is PostgreSQL, and tests marked `redis` unless REDIS_URL names a Redis server (make
    test-distributed)."""
    from django.conf import settings

    # pytest-xdist sends node ids to its workers: items sharing one would run only once.
    shared = sorted(nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1)
    if shared:
        raise pytest.UsageError(
            f"{len(shared)} test ids are shared by several tests, first {shared[0]!r}: "
            "make each id unique (pytest.param(id=...)); a plugin may not fit this pytest."
        )

    skips = {}
    if connection.vendor != "postgresql":
        skips["postgres"] = "needs DATABASE_URL=postgres://... (make test-postgres)"
    if not settings.REDIS_URL:
        skips["redis"] = "needs REDIS_URL=redis://... (make test-distributed)"
    for item in items:
        for marker, reason in skips.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    config.addinivalue_line(
        "markers",
        "real_rate_limits: the configured rate limits instead of the suite's unreachable ones",
    )

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if test_name and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        from pathlib import Path

        Path(test_name).parent.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def timelines(settings: Settings) -> Iterator[redis.Redis]:
    """Timelines on, an empty Redis database, and tasks run in-process on commit."""
    settings.FEED_TIMELINES = True
    redis_client.cache_clear()
    client = redis_client()
    assert client is not None
    client.flushdb()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield client
    celery_app.conf.task_always_eager = eager
    client.flushdb()
    redis_client.cache_clear()
