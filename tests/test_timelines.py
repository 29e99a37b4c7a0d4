"""The distributed feed: Redis timelines filled by fan-out on write (make test-distributed).

These run against a real Redis server and commit for real (transaction=True), because
fan-out happens after commit. Background tasks run in-process (Celery's eager mode) except
in the last test, which starts a real Celery worker.
"""

import os
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from plaza.accounts.models import User
from plaza.core.redis import redis_client
from plaza.graph.services import follow_create, privacy_set
from plaza.posts.models import Post, Visibility
from plaza.posts.services import post_create, post_delete
from tests.factories import UserFactory
from tests.servers import start_worker, stop_worker
from tests.timelines import expected_feed, timeline_ids, walk_feed

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

MakeClient = Callable[[User], APIClient]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_a_cold_timeline_is_rebuilt_from_the_database(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    viewer, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    posts = [post_create(author=author, title=f"t{n}", content="c").pk for n in range(3)]
    assert timeline_ids(timelines, viewer) == []  # nobody read it yet: nothing built

    response = make_client(viewer).get("/api/feed/")

    assert [int(post["id"]) for post in response.json()["results"]] == posts[::-1]
    assert timeline_ids(timelines, viewer) == posts[::-1]


def test_a_new_post_is_fanned_out_to_followers_timelines(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    viewer, author, stranger = UserFactory.create(), UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    client = make_client(viewer)
    client.get("/api/feed/")  # builds the (empty) timeline

    post = post_create(author=author, title="fresh", content="c")

    assert timeline_ids(timelines, viewer) == [post.pk]
    assert timeline_ids(timelines, stranger) == []  # never built, so never filled
    assert client.get("/api/feed/").json()["results"][0]["id"] == str(post.pk)


def test_a_tagged_post_reaches_the_timelines_of_the_tags_followers(
    timelines: redis.Redis, make_client: MakeClient, settings: Settings
) -> None:
    settings.FEED_FANOUT_MAX_FOLLOWERS = 1  # the stranger is "large": tags fan out anyway
    viewer, stranger, fan, private = UserFactory.create_batch(4)
    follow_create(follower=fan, followee=stranger)
    privacy_set(user=private, is_private=True)
    client = make_client(viewer)
    assert client.post("/api/tags/birds/follow/").status_code == 201
    before = post_create(author=stranger, content="Older #birds")
    client.get("/api/feed/")  # rebuilt with the tag's posts

    assert timeline_ids(timelines, viewer) == [before.pk]
    tagged = post_create(author=stranger, content="A robin #birds")
    post_create(author=private, content="Private #birds")
    post_create(author=stranger, content="Untagged")

    assert timeline_ids(timelines, viewer) == [tagged.pk, before.pk]
    assert walk_feed(client, 1) == expected_feed(viewer) == [tagged.pk, before.pk]
    post_delete(post=tagged)
    assert timeline_ids(timelines, viewer) == [before.pk]
    # Unfollowing the tag rebuilds the timeline without it.
    assert client.delete("/api/tags/birds/follow/").status_code == 204
    assert walk_feed(client, 5) == []


def test_fan_out_offers_a_post_to_the_timelines_its_visibility_allows(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    """Followers get every post but the direct ones, tag followers public posts alone; the
    author has all of theirs."""
    author, follower, tag_fan = UserFactory.create_batch(3)
    follow_create(follower=follower, followee=author)
    for reader in (author, follower, tag_fan):
        client = make_client(reader)
        if reader is tag_fan:
            assert client.post("/api/tags/roses/follow/").status_code == 201
        client.get("/api/feed/")  # builds the (empty) timeline

    posts = {
        visibility: post_create(author=author, content="#roses", visibility=visibility).pk
        for visibility in Visibility
    }

    assert timeline_ids(timelines, author) == sorted(posts.values(), reverse=True)
    assert timeline_ids(timelines, follower) == [
        posts[Visibility.FOLLOWERS],
        posts[Visibility.UNLISTED],
        posts[Visibility.PUBLIC],
    ]
    assert timeline_ids(timelines, tag_fan) == [posts[Visibility.PUBLIC]]
    for reader in (author, follower, tag_fan):
        assert (
            walk_feed(make_client(reader), 2)
            == expected_feed(reader)
            == timeline_ids(timelines, reader)
        )
    # A rebuilt timeline holds the same.
    timelines.flushdb()
    assert walk_feed(make_client(follower), 2) == expected_feed(follower)
    assert timeline_ids(timelines, follower) == expected_feed(follower)


def test_pages_match_the_database_across_the_window_and_large_accounts(
    timelines: redis.Redis, make_client: MakeClient, settings: Settings
) -> None:
    """The Redis feed walks to exactly the SQL feed: through a window smaller than the feed
    (the rest comes from SQL) and with a large account merged in at read time."""
    settings.FEED_TIMELINE_SIZE = 7
    settings.FEED_FANOUT_MAX_FOLLOWERS = 3
    viewer = UserFactory.create()
    small = [UserFactory.create() for _ in range(3)]
    star = UserFactory.create()
    for author in [*small, star]:
        follow_create(follower=viewer, followee=author)
    for fan in UserFactory.create_batch(2):
        follow_create(follower=fan, followee=star)  # 3 followers: too large to fan out
    outsider = UserFactory.create()
    client = make_client(viewer)

    authors = [*small, star, viewer, outsider]
    for number in range(12):  # before the timeline exists
        post_create(author=authors[number % len(authors)], title=f"a{number}", content="c")
    assert walk_feed(client, limit=4) == expected_feed(viewer)
    for number in range(15):  # fanned out into the now existing timeline
        post_create(author=authors[number % len(authors)], title=f"b{number}", content="c")

    assert walk_feed(client, limit=4) == expected_feed(viewer)
    assert walk_feed(client, limit=20) == expected_feed(viewer)
    cached = timeline_ids(timelines, viewer)
    assert len(cached) == 7  # trimmed to the window
    star_posts = set(Post.objects.filter(author=star).values_list("id", flat=True))
    assert not star_posts & set(cached)  # the large account was merged, not fanned out


def test_unfollowing_and_deleting_remove_posts_from_the_timeline(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    viewer, kept, dropped = UserFactory.create(), UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=kept)
    follow_create(follower=viewer, followee=dropped)
    kept_posts = [post_create(author=kept, title=f"k{n}", content="c") for n in range(2)]
    post_create(author=dropped, title="d", content="c")
    client = make_client(viewer)
    assert len(walk_feed(client, limit=20)) == 3

    client.delete(f"/api/users/{dropped.username}/follow/")
    assert walk_feed(client, limit=20) == [kept_posts[1].pk, kept_posts[0].pk]

    post_delete(post=kept_posts[1])
    assert timeline_ids(timelines, viewer) == [kept_posts[0].pk]
    assert walk_feed(client, limit=20) == [kept_posts[0].pk]


def test_a_flushed_redis_still_answers_a_full_page(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    viewer, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    for number in range(25):
        post_create(author=author, title=f"t{number}", content="c")
    client = make_client(viewer)
    first = client.get("/api/feed/").json()["results"]

    timelines.flushdb()

    assert client.get("/api/feed/").json()["results"] == first
    assert len(first) == 20


def test_with_redis_unreachable_the_api_answers_from_the_database(
    timelines: redis.Redis,
    make_client: MakeClient,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    viewer, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    post = post_create(author=author, title="t", content="c")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens
    redis_client.cache_clear()
    client = make_client(viewer)

    response = client.get("/api/feed/")
    created = make_client(author).post("/api/posts/", {"title": "t2", "content": "c"})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(post.pk)]
    assert created.status_code == 201
    assert "serving the feed from the database" in caplog.text


def _database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_a_real_worker_fans_a_post_out_within_seconds(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    """End to end: API request, commit, Redis broker, a Celery worker process, timeline."""
    celery_app.conf.task_always_eager = False
    viewer, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    make_client(viewer).get("/api/feed/")
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url_of_the_test_database(),
        "REDIS_URL": django_settings.REDIS_URL,
    }
    worker = start_worker(environment)
    try:
        started = time.monotonic()
        response = make_client(author).post("/api/posts/", {"title": "live", "content": "c"})
        post_id = int(response.json()["id"])
        while post_id not in timeline_ids(timelines, viewer):
            assert worker.poll() is None, "the Celery worker exited"
            assert time.monotonic() - started < 30, "not fanned out within 30 s"
            time.sleep(0.05)
    finally:
        stop_worker(worker)


def test_an_account_growing_past_the_threshold_is_merged_once_the_list_refreshes(
    timelines: redis.Redis, make_client: MakeClient, settings: Settings
) -> None:
    """Its new posts are no longer fanned out; readers pick them up from the database once
    their cached list of large accounts (LARGE_FOLLOWEES_TTL) has expired."""
    viewer, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=viewer, followee=author)
    client = make_client(viewer)
    client.get("/api/feed/")  # builds the timeline and the (empty) list of large accounts
    settings.FEED_FANOUT_MAX_FOLLOWERS = 1  # the author (1 follower) is now "large"

    post = post_create(author=author, title="after growing", content="c")

    assert timeline_ids(timelines, viewer) == []  # not fanned out
    timelines.delete(f"plaza:timeline:{viewer.pk}:large")  # the list's TTL ran out
    assert client.get("/api/feed/").json()["results"][0]["id"] == str(post.pk)


def test_timelines_expire_when_idle_and_drop_timelines_forgets_them(
    timelines: redis.Redis, make_client: MakeClient
) -> None:
    """Documented in docs/deployment.md and docs/operations.md: timelines unused for 7 days
    expire, and `manage.py drop_timelines` forgets them all (they rebuild on the next read)."""
    viewers = UserFactory.create_batch(2)
    for viewer in viewers:
        make_client(viewer).get("/api/feed/")
    key = f"plaza:timeline:{viewers[0].pk}"
    assert 6 * 86_400 < timelines.ttl(key) <= 7 * 86_400

    out = StringIO()
    call_command("drop_timelines", stdout=out)

    assert "Dropped 2 timelines." in out.getvalue()
    assert not timelines.keys("plaza:timeline:*")
    assert make_client(viewers[0]).get("/api/feed/").status_code == 200
    assert timelines.exists(key)
