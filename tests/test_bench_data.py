"""The benchmark data generator (`manage.py bench_data`): a tiny network, checked row by row.

The generator writes with raw bulk inserts (COPY on PostgreSQL), drops and rebuilds indexes
and foreign keys, and turns pragmas off and on: the tests run outside a test transaction so
all of that really happens, on whichever database the suite runs against.
"""

import json
from collections import Counter
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.core.ids import datetime_from_id, id_from_datetime
from plaza.graph.models import Follow
from plaza.notifications.models import Notification
from plaza.operations.benchdata import VIEWER_USERNAME, NetworkBuilder, OutOfDate, _columns, stamper
from plaza.posts.models import Comment, Like, Post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

USERS, POSTS = 60, 400
TABLES = [model._meta.db_table for model in (User, Follow, Post, Like, Comment, Notification)]


def schema() -> dict[str, dict[str, Any]]:
    """Every constraint and index of the generated tables, as the database reports them."""
    with connection.cursor() as cursor:
        return {table: connection.introspection.get_constraints(cursor, table) for table in TABLES}


def generate(tokens_file: Path, *extra: str) -> str:
    out = StringIO()
    call_command(
        "bench_data",
        f"--users={USERS}",
        f"--posts={POSTS}",
        "--seed=7",
        f"--tokens-file={tokens_file}",
        *extra,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


@pytest.mark.parametrize("processes", ["forked producer", "single process"])
def test_builds_a_consistent_network(tmp_path: Path, processes: str) -> None:
    schema_before = schema()
    tokens_file = tmp_path / "tokens.json"
    output = generate(tokens_file, *(["--single-process"] if processes == "single process" else []))
    assert "Done in" in output

    assert User.objects.count() == USERS
    assert Post.objects.count() == POSTS
    # The indexes and foreign keys dropped for the load are all back, unchanged.
    assert schema() == schema_before
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA foreign_key_check").fetchall() == []
            assert cursor.execute("PRAGMA foreign_keys").fetchone() == (1,)

    # Every denormalised counter is exact.
    call_command("repair_counters", "--check", stdout=StringIO())

    # The follow graph: no self-follows, no duplicate pairs, the viewer follows everyone.
    follows = list(Follow.objects.values_list("id", "follower_id", "followee_id"))
    assert not [f for f in follows if f[1] == f[2]]
    assert len({(f[1], f[2]) for f in follows}) == len(follows)
    viewer = User.objects.get(username=VIEWER_USERNAME)
    assert viewer.following_count == USERS - 1
    assert viewer.followers_count > 0
    assert viewer.posts_count > 0
    likes = list(Like.objects.values_list("id", "user_id", "post_id"))
    assert len({(like[1], like[2]) for like in likes}) == len(likes)
    assert Comment.objects.exists()
    assert Comment.objects.filter(author=F("post__author")).exists()  # self-replies too

    # Exactly one notification per event, to the right person, never for one's own action.
    authors = dict(Post.objects.values_list("id", "author_id"))
    comments = list(Comment.objects.values_list("id", "author_id", "post_id"))
    expected = Counter(
        [("follow", f[0], f[2], f[1]) for f in follows]
        + [("like", like[0], authors[like[2]], like[1]) for like in likes]
        + [("comment", c[0], authors[c[2]], c[1]) for c in comments if c[1] != authors[c[2]]]
    )
    notifications = Notification.objects.select_related("target_type")
    actual = Counter(
        (n.kind, n.target_id, n.recipient_id, n.actor_id) for n in notifications.iterator()
    )
    assert actual == expected
    assert {n.target_type.model for n in notifications} == {"follow", "like", "comment"}
    assert Notification.objects.filter(recipient=viewer).exists()
    reads = Counter(Notification.objects.values_list("read", flat=True))
    assert reads[True] > 0
    assert reads[False] > 0

    # Ids are snowflakes of the rows' own creation times, all in the past.
    now_id = id_from_datetime(timezone.now())
    for model in (User, Follow, Post, Like, Comment, Notification):
        newest = model._default_manager.order_by("-pk").first()
        assert newest is not None
        assert newest.pk < now_id
    for post in Post.objects.all()[:50]:
        assert abs(datetime_from_id(post.pk) - post.created_at) < timedelta(milliseconds=1)
    for notification in Notification.objects.all()[:50]:
        assert abs(datetime_from_id(notification.pk) - notification.created_at) < timedelta(
            milliseconds=1
        )
    posted = sorted(Post.objects.values_list("created_at", flat=True))
    assert posted[-1] > timezone.now() - timedelta(days=1)
    assert posted[0] < timezone.now() - timedelta(days=20)

    # The tokens file: real tokens that sign in, and posts that exist.
    tokens = json.loads(tokens_file.read_text())
    assert tokens["size"] == "custom"
    assert tokens["viewer"]["username"] == VIEWER_USERNAME
    assert tokens["users"]
    assert {entry["username"] for entry in tokens["users"]} <= set(
        User.objects.values_list("username", flat=True)
    )
    assert len(tokens["post_ids"]) == POSTS
    assert Post.objects.filter(pk__in=[int(i) for i in tokens["post_ids"]]).count() == POSTS
    holders = [tokens["viewer"], *tokens["users"], *tokens["celebrities"]]
    assert len({entry["username"] for entry in holders}) == len(holders)
    assert AuthToken.objects.count() == len(holders)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['viewer']['token']}")
    response = client.get("/api/feed/")
    assert response.status_code == 200, response.content
    page = response.json()["results"]
    assert len(page) == 20
    assert [post["id"] for post in page] == sorted((post["id"] for post in page), key=int)[::-1]
    sample = tokens["users"][0]
    client.credentials(HTTP_AUTHORIZATION=f"Token {sample['token']}")
    me = client.get("/api/me/")
    assert me.status_code == 200, me.content
    assert me.json()["username"] == sample["username"]


def test_refuses_a_database_that_holds_accounts(tmp_path: Path) -> None:
    UserFactory.create()
    with pytest.raises(CommandError, match="needs an empty database") as refused:
        generate(tmp_path / "tokens.json")
    assert "DATABASE_URL" in str(refused.value)
    with pytest.raises(CommandError, match="--force cannot help"):
        generate(tmp_path / "tokens.json", "--force")
    assert User.objects.count() == 1
    assert not (tmp_path / "tokens.json").exists()


@pytest.mark.parametrize("processes", ["forked producer", "single process"])
def test_a_failed_load_says_what_next_and_keeps_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    schema_before = schema()

    def broken(self: NetworkBuilder) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(NetworkBuilder, "comments_table", broken)
    tokens_file = tmp_path / "tokens.json"
    extra = ["--single-process"] if processes == "single process" else []
    with pytest.raises(CommandError, match="the disk is on fire") as failed:
        generate(tokens_file, *extra)
    if connection.vendor == "postgresql":
        assert "Nothing was kept" in str(failed.value)
        assert not User.objects.exists()
    else:
        assert "delete the file" in str(failed.value)
    assert schema() == schema_before
    assert not tokens_file.exists()


def test_a_model_field_the_generator_does_not_fill_stops_it_before_it_writes() -> None:
    with pytest.raises(OutOfDate, match=r"does not fill the fields \['created_at'\] of Follow"):
        _columns(Follow, ["id", "follower_id", "followee_id"])


def test_ids_stay_unique_across_blocks_of_the_sequence() -> None:
    """Past 2**21 rows a table's ids tell rows apart by their millisecond too. Shown with a
    3-bit sequence: 50 rows made in the very same millisecond."""
    stamp = stamper(50, "", sequence_bits=3)
    made = [stamp(1_000_000) for _ in range(50)]
    ids = [row_id for row_id, _text in made]
    assert len(set(ids)) == 50
    assert all(1_000_000 - 7 <= row_id >> 3 <= 1_000_000 for row_id in ids)


def test_timestamps_are_what_django_stores() -> None:
    stamp = stamper(1, "")
    moment = timezone.now().replace(microsecond=123_000)
    row_id, text = stamp(id_from_datetime(moment) >> 21)
    assert datetime_from_id(row_id) == moment
    assert text == moment.strftime("%Y-%m-%d %H:%M:%S.%f")
