"""Concurrent requests against a real database: likes, reposts, bookmarks and follows stay unique,
counters exact, notifications one per event, and nothing answers 5xx (SQLite's "database is
locked" included).

Each request runs in its own thread with its own database connection, all released at once by
a barrier. These tests run on SQLite (the embedded default: WAL, immediate transactions, busy
timeout) and, through `make test-postgres`, on PostgreSQL.
"""

import pytest

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Bookmark, Like, Post, Repost
from tests.factories import PostFactory, UserFactory
from tests.helpers import client_for, follow_url
from tests.races import ROUNDS, THREADS, Call, run_together


def like_path(post: Post) -> str:
    return f"/api/posts/{post.pk}/like/"


def bookmark_path(post: Post) -> str:
    return f"/api/posts/{post.pk}/bookmark/"


def assert_one_created(statuses: list[int]) -> None:
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 1, statuses


@pytest.mark.django_db(transaction=True)
def test_same_user_liking_one_post_at_once_likes_it_once() -> None:
    post = PostFactory.create()
    fan = UserFactory.create()

    statuses = run_together(
        [Call(client_for(fan), "post", like_path(post)) for _ in range(THREADS)]
    )

    assert_one_created(statuses)
    assert Like.objects.filter(post=post).count() == 1
    post.refresh_from_db()
    assert post.likes_count == 1
    notifications = Notification.objects.filter(recipient=post.author, kind=NotificationKind.LIKE)
    assert notifications.count() == 1
    assert notifications.get().actor_id == fan.pk


@pytest.mark.django_db(transaction=True)
def test_same_user_reposting_one_post_at_once_reposts_it_once() -> None:
    post = PostFactory.create()
    fan = UserFactory.create()

    statuses = run_together(
        [Call(client_for(fan), "post", f"/api/posts/{post.pk}/repost/") for _ in range(THREADS)]
    )

    assert_one_created(statuses)
    assert Repost.objects.filter(post=post).count() == 1
    post.refresh_from_db()
    assert post.reposts_count == 1
    notifications = Notification.objects.filter(recipient=post.author, kind=NotificationKind.REPOST)
    assert notifications.count() == 1


@pytest.mark.django_db(transaction=True)
def test_same_user_bookmarking_one_post_at_once_keeps_it_once() -> None:
    post = PostFactory.create()
    reader = UserFactory.create()

    statuses = run_together(
        [
            Call(client_for(reader), "post", f"/api/posts/{post.pk}/bookmark/")
            for _ in range(THREADS)
        ]
    )

    assert_one_created(statuses)
    assert Bookmark.objects.filter(post=post, user=reader).count() == 1
    assert not Notification.objects.exists()  # bookmarks are private: nobody is told


@pytest.mark.django_db(transaction=True)
def test_same_user_following_one_account_at_once_follows_once() -> None:
    follower, followee = UserFactory.create(), UserFactory.create()

    statuses = run_together(
        [Call(client_for(follower), "post", follow_url(followee)) for _ in range(THREADS)]
    )

    assert_one_created(statuses)
    assert Follow.objects.filter(follower=follower, followee=followee).count() == 1
    follower.refresh_from_db()
    followee.refresh_from_db()
    assert (follower.following_count, follower.followers_count) == (1, 0)
    assert (followee.following_count, followee.followers_count) == (0, 1)
    notifications = Notification.objects.filter(recipient=followee, kind=NotificationKind.FOLLOW)
    assert notifications.count() == 1
    assert notifications.get().actor_id == follower.pk


@pytest.mark.django_db(transaction=True)
def test_many_users_liking_one_post_at_once_are_all_counted() -> None:
    post = PostFactory.create()
    fans = UserFactory.create_batch(THREADS)

    statuses = run_together([Call(client_for(fan), "post", like_path(post)) for fan in fans])

    assert statuses == [201] * THREADS
    assert Like.objects.filter(post=post).count() == THREADS
    post.refresh_from_db()
    assert post.likes_count == THREADS
    notifications = Notification.objects.filter(recipient=post.author, kind=NotificationKind.LIKE)
    assert sorted(notifications.values_list("actor_id", flat=True)) == sorted(f.pk for f in fans)


@pytest.mark.django_db(transaction=True)
def test_many_users_following_one_account_at_once_are_all_counted() -> None:
    star = UserFactory.create()
    fans = UserFactory.create_batch(THREADS)

    statuses = run_together([Call(client_for(fan), "post", follow_url(star)) for fan in fans])

    assert statuses == [201] * THREADS
    star.refresh_from_db()
    assert (star.followers_count, star.following_count) == (THREADS, 0)
    fan_counts = User.objects.filter(pk__in=[fan.pk for fan in fans]).values_list(
        "following_count", flat=True
    )
    assert list(fan_counts) == [1] * THREADS
    notifications = Notification.objects.filter(recipient=star, kind=NotificationKind.FOLLOW)
    assert sorted(notifications.values_list("actor_id", flat=True)) == sorted(f.pk for f in fans)


@pytest.mark.django_db(transaction=True)
def test_mutual_follow_and_unfollow_at_the_same_moment_do_not_deadlock() -> None:
    """A follows B while B follows A: each transaction updates both users' counters, the
    classic lock-order deadlock unless rows are always locked in the same order. Each
    direction is sent twice, so the unique pair is raced too; unfollowing is raced the same way.
    """
    alice, bob = UserFactory.create(), UserFactory.create()
    # Two clients per direction, reused for every round.
    senders = [(client_for(alice), bob), (client_for(bob), alice)] * 2

    for _round in range(ROUNDS):
        statuses = run_together([Call(c, "post", follow_url(other)) for c, other in senders])
        assert sorted(statuses) == [200, 200, 201, 201]
        for user in (alice, bob):
            user.refresh_from_db()
            assert (user.followers_count, user.following_count) == (1, 1)
        assert Follow.objects.count() == 2
        assert Notification.objects.filter(kind=NotificationKind.FOLLOW).count() == 2

        statuses = run_together([Call(c, "delete", follow_url(other)) for c, other in senders])
        assert statuses == [204] * 4
        for user in (alice, bob):
            user.refresh_from_db()
            assert (user.followers_count, user.following_count) == (0, 0)
        assert not Follow.objects.exists()
        assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_liking_and_unliking_at_once_keeps_the_counter_equal_to_the_rows() -> None:
    """Half the requests like, half unlike, for the same user and post: whatever order they
    run in, the counter matches the rows, and no notification outlives its like."""
    post = PostFactory.create()
    fan = UserFactory.create()
    calls = [
        Call(client_for(fan), method, like_path(post))
        for _ in range(THREADS // 2)
        for method in ("post", "delete")
    ]

    for _round in range(ROUNDS):
        statuses = run_together(calls)

        assert set(statuses) <= {200, 201, 204}, statuses
        likes = Like.objects.filter(post=post).count()
        assert likes in (0, 1)
        post.refresh_from_db()
        assert post.likes_count == likes
        assert Notification.objects.filter(kind=NotificationKind.LIKE).count() == likes


@pytest.mark.django_db(transaction=True)
def test_following_and_unfollowing_at_once_keeps_the_counters_equal_to_the_rows() -> None:
    follower, followee = UserFactory.create(), UserFactory.create()
    calls = [
        Call(client_for(follower), method, follow_url(followee))
        for _ in range(THREADS // 2)
        for method in ("post", "delete")
    ]

    for _round in range(ROUNDS):
        statuses = run_together(calls)

        assert set(statuses) <= {200, 201, 204}, statuses
        follows = Follow.objects.filter(follower=follower, followee=followee).count()
        assert follows in (0, 1)
        follower.refresh_from_db()
        followee.refresh_from_db()
        assert (follower.following_count, followee.followers_count) == (follows, follows)
        assert Notification.objects.filter(kind=NotificationKind.FOLLOW).count() == follows


@pytest.mark.django_db(transaction=True)
def test_deleting_a_post_while_others_act_on_it_never_fails() -> None:
    """The author deletes a post at the very moment others like, bookmark, repost and
    comment on it. Each write lands either before the deletion (and is deleted with the
    post) or after it (404): never a 5xx, never a like, bookmark, repost or comment left
    pointing at nothing."""
    for _ in range(ROUNDS):
        author = UserFactory.create()
        post = PostFactory.create(author=author)
        fans = UserFactory.create_batch(9)
        calls = [Call(client_for(author), "delete", f"/api/posts/{post.pk}/")]
        for index, fan in enumerate(fans):
            if index % 4 == 1:
                calls.append(Call(client_for(fan), "post", like_path(post)))
            elif index % 4 == 2:
                calls.append(Call(client_for(fan), "post", bookmark_path(post)))
            elif index % 4 == 3:
                calls.append(Call(client_for(fan), "post", f"/api/posts/{post.pk}/repost/"))
            else:
                path = f"/api/posts/{post.pk}/comments/"
                calls.append(Call(client_for(fan), "post", path, {"content": "first!"}))

        statuses = run_together(calls)

        assert all(status < 500 for status in statuses), statuses
        assert statuses[0] == 204
        assert not Post.objects.filter(pk=post.pk).exists()
        assert not Like.objects.filter(post_id=post.pk).exists()
        assert not Bookmark.objects.filter(post_id=post.pk).exists()
        assert not Repost.objects.filter(post_id=post.pk).exists()
        assert not Notification.objects.filter(recipient=author).exists()
