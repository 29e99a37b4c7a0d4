"""Bookmarks: posts kept to read again, private to the account that keeps them."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.services import (
    block_create,
    follow_create,
    follower_remove,
    mute_create,
    privacy_set,
)
from plaza.notifications.models import Notification
from plaza.posts.models import Bookmark, Post
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def bookmark_url(post: Post) -> str:
    return f"/api/posts/{post.pk}/bookmark/"


def kept_ids(client: APIClient) -> list[str]:
    response = client.get("/api/me/bookmarks/")
    assert response.status_code == 200, response.content
    return [post["id"] for post in response.json()["results"]]


def test_keeping_a_post_is_201_then_200_and_shows_on_the_post(make_client: MakeClient) -> None:
    reader, post = UserFactory.create(), PostFactory.create()
    client = make_client(reader)

    first, again = client.post(bookmark_url(post)), client.post(bookmark_url(post))

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == {"post_id": str(post.pk), "bookmarked": True}
    assert Bookmark.objects.filter(user=reader, post=post).count() == 1
    assert client.get(f"/api/posts/{post.pk}/").json()["bookmarked_by_me"] is True
    # Someone else, and an anonymous reader, see only their own (none).
    assert (
        make_client(UserFactory.create()).get(f"/api/posts/{post.pk}/").json()["bookmarked_by_me"]
        is False
    )
    assert APIClient().get(f"/api/posts/{post.pk}/").json()["bookmarked_by_me"] is None
    # The author is not told.
    assert not Notification.objects.exists()


def test_letting_go_is_204_also_twice(make_client: MakeClient) -> None:
    reader, post = UserFactory.create(), PostFactory.create()
    client = make_client(reader)
    client.post(bookmark_url(post))

    assert client.delete(bookmark_url(post)).status_code == 204
    assert client.delete(bookmark_url(post)).status_code == 204
    assert not Bookmark.objects.exists()
    assert client.get(f"/api/posts/{post.pk}/").json()["bookmarked_by_me"] is False


def test_bookmarks_list_newest_kept_first_and_only_mine(make_client: MakeClient) -> None:
    reader, other = UserFactory.create(), UserFactory.create()
    older, newer = PostFactory.create(), PostFactory.create()
    client = make_client(reader)
    # Kept in the other order from their publication: the list follows when they were kept.
    client.post(bookmark_url(newer))
    client.post(bookmark_url(older))
    make_client(other).post(bookmark_url(newer))

    response = client.get("/api/me/bookmarks/")

    results = response.json()["results"]
    assert [post["id"] for post in results] == [str(older.pk), str(newer.pk)]
    assert all(post["bookmarked_by_me"] is True for post in results)
    assert kept_ids(make_client(other)) == [str(newer.pk)]
    assert APIClient().get("/api/me/bookmarks/").status_code == 401


def test_the_feed_shows_which_posts_are_kept(make_client: MakeClient) -> None:
    reader, author = UserFactory.create(), UserFactory.create()
    follow_create(follower=reader, followee=author)
    kept, other = PostFactory.create(author=author), PostFactory.create(author=author)
    client = make_client(reader)
    client.post(bookmark_url(kept))

    marks = {
        post["id"]: post["bookmarked_by_me"] for post in client.get("/api/feed/").json()["results"]
    }

    assert marks == {str(kept.pk): True, str(other.pk): False}


def test_a_post_gone_out_of_sight_leaves_the_list_and_can_still_be_let_go(
    make_client: MakeClient,
) -> None:
    reader, private, blocker, muted = UserFactory.create_batch(4)
    follow_create(follower=reader, followee=private)
    privacy_set(user=private, is_private=True)
    posts = {
        "private": PostFactory.create(author=private),
        "blocker": PostFactory.create(author=blocker),
        "muted": PostFactory.create(author=muted),
    }
    client = make_client(reader)
    for post in posts.values():
        assert client.post(bookmark_url(post)).status_code == 201
    assert len(kept_ids(client)) == 3

    follower_remove(user=private, follower=reader)
    block_create(blocker=blocker, blocked=reader)
    mute_create(muter=reader, muted=muted)

    assert kept_ids(client) == []
    # Letting go of one kept before it went out of sight still works...
    assert client.delete(bookmark_url(posts["private"])).status_code == 204
    assert not Bookmark.objects.filter(post=posts["private"]).exists()
    # ...while one never kept is as absent as a missing post, and cannot be kept.
    stranger = make_client(UserFactory.create())
    assert stranger.post(bookmark_url(posts["private"])).status_code == 404
    assert stranger.delete(bookmark_url(posts["private"])).status_code == 404
    assert stranger.post(bookmark_url(posts["blocker"])).status_code == 201


def test_a_deleted_post_takes_its_bookmarks(make_client: MakeClient) -> None:
    reader, author = UserFactory.create(), UserFactory.create()
    post = PostFactory.create(author=author)
    client = make_client(reader)
    client.post(bookmark_url(post))

    assert make_client(author).delete(f"/api/posts/{post.pk}/").status_code == 204

    assert kept_ids(client) == []
    assert not Bookmark.objects.exists()
    assert client.post(bookmark_url(post)).status_code == 404


def test_keeping_a_missing_post_is_404(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    assert client.post("/api/posts/123456789/bookmark/").status_code == 404
    assert client.delete("/api/posts/123456789/bookmark/").status_code == 404
    assert APIClient().post("/api/posts/123456789/bookmark/").status_code == 401
