"""Likes through the API: like, unlike, the likers list, counters and liked_by_me."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.posts.models import Like, Post
from tests.factories import FollowFactory, LikeFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def likes_count(post: Post) -> int:
    post.refresh_from_db()
    return post.likes_count


def test_like_is_201_then_200(make_client: MakeClient) -> None:
    post = PostFactory.create()
    fan = UserFactory.create()
    client = make_client(fan)
    first = client.post(f"/api/posts/{post.pk}/like/")
    assert first.status_code == 201
    assert first.json() == {"post_id": str(post.pk), "liked": True, "likes_count": 1}
    again = client.post(f"/api/posts/{post.pk}/like/")
    assert again.status_code == 200
    assert again.json()["likes_count"] == 1
    assert Like.objects.filter(post=post, user=fan).count() == 1
    assert likes_count(post) == 1


def test_unlike_is_204_and_decrements(make_client: MakeClient) -> None:
    post = PostFactory.create()
    client = make_client(UserFactory.create())
    client.post(f"/api/posts/{post.pk}/like/")
    assert client.delete(f"/api/posts/{post.pk}/like/").status_code == 204
    assert not Like.objects.filter(post=post).exists()
    assert likes_count(post) == 0


def test_unlike_when_not_liked_is_204_and_changes_nothing(make_client: MakeClient) -> None:
    post = PostFactory.create()
    make_client(UserFactory.create()).post(f"/api/posts/{post.pk}/like/")
    response = make_client(UserFactory.create()).delete(f"/api/posts/{post.pk}/like/")
    assert response.status_code == 204
    assert likes_count(post) == 1
    assert Like.objects.filter(post=post).count() == 1


def test_likes_count_with_several_users(make_client: MakeClient) -> None:
    post = PostFactory.create()
    clients = [make_client(UserFactory.create()) for _ in range(3)]
    for client in clients:
        client.post(f"/api/posts/{post.pk}/like/")
    assert likes_count(post) == 3
    clients[0].delete(f"/api/posts/{post.pk}/like/")
    clients[0].delete(f"/api/posts/{post.pk}/like/")
    assert likes_count(post) == 2
    clients[0].post(f"/api/posts/{post.pk}/like/")
    assert likes_count(post) == 3
    assert clients[1].get(f"/api/posts/{post.pk}/").json()["likes_count"] == 3


def test_like_missing_post_is_404(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    assert client.post("/api/posts/123456789/like/").status_code == 404
    assert client.delete("/api/posts/123456789/like/").status_code == 404
    assert not Like.objects.exists()


def test_anonymous_cannot_like(api_client: APIClient) -> None:
    post = PostFactory.create()
    assert api_client.post(f"/api/posts/{post.pk}/like/").status_code == 401
    assert api_client.delete(f"/api/posts/{post.pk}/like/").status_code == 401
    assert not Like.objects.exists()


def test_likers_list_newest_first(make_client: MakeClient, api_client: APIClient) -> None:
    post = PostFactory.create()
    fans = [UserFactory.create() for _ in range(3)]
    for fan in fans:
        make_client(fan).post(f"/api/posts/{post.pk}/like/")
    LikeFactory.create()  # someone else's post
    response = api_client.get(f"/api/posts/{post.pk}/likes/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [item["user"]["username"] for item in body["results"]] == [
        fan.username for fan in reversed(fans)
    ]
    assert body["results"][0]["user"] == {
        "id": str(fans[-1].pk),
        "username": fans[-1].username,
        "display_name": fans[-1].display_name,
        "avatar": None,
    }
    assert "liked_at" in body["results"][0]


def test_likers_list_is_paginated(api_client: APIClient) -> None:
    post = PostFactory.create()
    likes = [LikeFactory.create(post=post) for _ in range(22)]
    first = api_client.get(f"/api/posts/{post.pk}/likes/").json()
    assert len(first["results"]) == 20
    second = api_client.get(first["next"]).json()
    assert second["next"] is None
    seen = [item["user"]["id"] for item in first["results"] + second["results"]]
    assert seen == [str(like.user_id) for like in reversed(likes)]


def test_likers_list_drops_unliked(make_client: MakeClient, api_client: APIClient) -> None:
    post = PostFactory.create()
    stays, leaves = UserFactory.create(), UserFactory.create()
    make_client(stays).post(f"/api/posts/{post.pk}/like/")
    make_client(leaves).post(f"/api/posts/{post.pk}/like/")
    make_client(leaves).delete(f"/api/posts/{post.pk}/like/")
    results = api_client.get(f"/api/posts/{post.pk}/likes/").json()["results"]
    assert [item["user"]["username"] for item in results] == [stays.username]


def test_likers_of_missing_post_is_404(api_client: APIClient) -> None:
    assert api_client.get("/api/posts/123456789/likes/").status_code == 404


# --- liked_by_me ----------------------------------------------------------------------------


def test_liked_by_me_in_detail(make_client: MakeClient, api_client: APIClient) -> None:
    post = PostFactory.create()
    fan, other = make_client(UserFactory.create()), make_client(UserFactory.create())
    fan.post(f"/api/posts/{post.pk}/like/")
    assert fan.get(f"/api/posts/{post.pk}/").json()["liked_by_me"] is True
    assert other.get(f"/api/posts/{post.pk}/").json()["liked_by_me"] is False
    assert api_client.get(f"/api/posts/{post.pk}/").json()["liked_by_me"] is None
    fan.delete(f"/api/posts/{post.pk}/like/")
    assert fan.get(f"/api/posts/{post.pk}/").json()["liked_by_me"] is False


def test_liked_by_me_in_list(make_client: MakeClient, api_client: APIClient) -> None:
    liked, not_liked = PostFactory.create(), PostFactory.create()
    viewer = UserFactory.create()
    LikeFactory.create(post=liked, user=viewer)
    LikeFactory.create(post=not_liked)  # someone else's like must not count as the viewer's
    rendered = {
        post["id"]: post["liked_by_me"]
        for post in make_client(viewer).get("/api/posts/").json()["results"]
    }
    assert rendered == {str(liked.pk): True, str(not_liked.pk): False}
    anonymous = api_client.get("/api/posts/").json()["results"]
    assert [post["liked_by_me"] for post in anonymous] == [None, None]


def test_liked_by_me_in_feed(make_client: MakeClient) -> None:
    viewer, author = UserFactory.create(), UserFactory.create()
    FollowFactory.create(follower=viewer, followee=author)
    liked, not_liked, own = (
        PostFactory.create(author=author),
        PostFactory.create(author=author),
        PostFactory.create(author=viewer),
    )
    client = make_client(viewer)
    client.post(f"/api/posts/{liked.pk}/like/")
    client.post(f"/api/posts/{own.pk}/like/")
    rendered = {
        post["id"]: post["liked_by_me"] for post in client.get("/api/feed/").json()["results"]
    }
    assert rendered == {str(liked.pk): True, str(not_liked.pk): False, str(own.pk): True}
