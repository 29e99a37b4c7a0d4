"""`manage.py repair_counters`: finds and fixes denormalised counters that drifted."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from plaza.accounts.models import User
from plaza.graph.services import follow_create
from plaza.operations.management.commands import repair_counters
from plaza.posts.models import Post
from plaza.posts.services import comment_create, like_create, post_create, repost_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("repair_counters", *args, stdout=out)
    return out.getvalue()


def user_counters() -> dict[int, tuple[int, int, int]]:
    return {
        pk: (followers, following, posts)
        for pk, followers, following, posts in User.objects.values_list(
            "pk", "followers_count", "following_count", "posts_count"
        )
    }


def post_counters() -> dict[int, tuple[int, int, int]]:
    return {
        pk: (likes, comments, reposts)
        for pk, likes, comments, reposts in Post.objects.values_list(
            "pk", "likes_count", "comments_count", "reposts_count"
        )
    }


@pytest.fixture
def world() -> dict[str, User]:
    """A small network built through the services, so every counter starts out right:
    ann follows bob and cat, bob follows ann; ann has 2 posts, bob 1; bob and cat like ann's
    first post; cat comments twice on it and once on bob's, and reposts it."""
    ann, bob, cat = (UserFactory.create(username=name) for name in ("ann", "bob", "cat"))
    follow_create(follower=ann, followee=bob)
    follow_create(follower=ann, followee=cat)
    follow_create(follower=bob, followee=ann)
    first = post_create(author=ann, title="first", content="x")
    post_create(author=ann, title="second", content="x")
    bobs = post_create(author=bob, title="bob's", content="x")
    like_create(user=bob, post=first)
    like_create(user=cat, post=first)
    comment_create(author=cat, post=first, content="one")
    comment_create(author=cat, post=first, content="two")
    comment_create(author=cat, post=bobs, content="three")
    repost_create(user=cat, post=first)
    return {"ann": ann, "bob": bob, "cat": cat}


def expected_users(world: dict[str, User]) -> dict[int, tuple[int, int, int]]:
    return {
        world["ann"].pk: (1, 2, 2),
        world["bob"].pk: (1, 1, 1),
        world["cat"].pk: (1, 0, 0),
    }


def expected_posts() -> dict[int, tuple[int, int, int]]:
    return {
        Post.objects.get(title="first").pk: (2, 2, 1),
        Post.objects.get(title="second").pk: (0, 0, 0),
        Post.objects.get(title="bob's").pk: (0, 1, 0),
    }


def corrupt(world: dict[str, User]) -> None:
    User.objects.filter(pk=world["ann"].pk).update(followers_count=40, posts_count=-3)
    User.objects.filter(pk=world["cat"].pk).update(following_count=7)
    Post.objects.filter(title="first").update(likes_count=0, comments_count=99, reposts_count=4)
    Post.objects.filter(title="second").update(comments_count=5)
    Post.objects.filter(title="bob's").update(likes_count=1)


def test_services_kept_counters_right(world: dict[str, User]) -> None:
    assert user_counters() == expected_users(world)
    assert post_counters() == expected_posts()
    output = run("--check")
    assert "All counters are correct." in output


def test_repair_fixes_corrupted_counters_and_says_how_many(world: dict[str, User]) -> None:
    corrupt(world)
    output = run()
    assert user_counters() == expected_users(world)
    assert post_counters() == expected_posts()
    # ann and cat among users, all three posts.
    assert "Repaired the counters of 5 rows." in output
    assert "2 rows with wrong counters" in output
    assert "3 rows with wrong counters" in output

    assert "All counters are correct." in run()
    assert "All counters are correct." in run("--check")


def test_check_reports_and_fails_without_changing_anything(world: dict[str, User]) -> None:
    corrupt(world)
    users_before, posts_before = user_counters(), post_counters()
    out = StringIO()
    with pytest.raises(CommandError, match="5 rows have wrong counters") as caught:
        call_command("repair_counters", "--check", stdout=out)
    assert caught.value.returncode != 0
    assert "2 rows with wrong counters" in out.getvalue()
    assert "3 rows with wrong counters" in out.getvalue()
    assert user_counters() == users_before
    assert post_counters() == posts_before
    assert user_counters() != expected_users(world)


def test_repair_leaves_right_counters_alone(world: dict[str, User]) -> None:
    User.objects.filter(pk=world["bob"].pk).update(posts_count=0)
    output = run()
    assert "Repaired the counters of 1 rows." in output
    assert user_counters() == expected_users(world)
    assert post_counters() == expected_posts()


def test_repair_after_deleting_a_user(world: dict[str, User]) -> None:
    # Deleting an account (the admin's moderation) cascades its follows, likes and comments
    # without going through the services, which leaves other rows' counters stale.
    world["cat"].delete()
    with pytest.raises(CommandError):
        run("--check")
    run()
    ann, bob = world["ann"], world["bob"]
    assert user_counters() == {ann.pk: (1, 1, 2), bob.pk: (1, 1, 1)}
    first = Post.objects.get(title="first")
    assert (first.likes_count, first.comments_count, first.reposts_count) == (1, 0, 0)
    assert Post.objects.get(title="bob's").comments_count == 0


def test_repair_works_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repair_counters, "BATCH_SIZE", 2)
    users = UserFactory.create_batch(5)
    for user in users:
        post_create(author=user, title="t", content="c")
    User.objects.update(posts_count=9)
    output = run()
    assert set(User.objects.values_list("posts_count", flat=True)) == {1}
    assert "Repaired the counters of 5 rows." in output
    assert "5/5" in output


def test_repair_on_an_empty_database() -> None:
    assert "All counters are correct." in run("--check")
