"""Comments through the API: thread order, create, edit, delete, permissions, counters."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Post
from tests.factories import CommentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def comment_on(client: APIClient, post_id: Any, content: str = "Nice") -> dict[str, Any]:
    response = client.post(f"/api/posts/{post_id}/comments/", {"content": content}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def comments_count(post: Post) -> int:
    post.refresh_from_db()
    return post.comments_count


def test_thread_is_oldest_first(api_client: APIClient) -> None:
    post = PostFactory.create()
    comments = [CommentFactory.create(post=post) for _ in range(3)]
    CommentFactory.create()  # on another post
    response = api_client.get(f"/api/posts/{post.pk}/comments/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [item["id"] for item in body["results"]] == [str(comment.pk) for comment in comments]


def test_thread_renders_comment_fields(api_client: APIClient) -> None:
    author = UserFactory.create(display_name="Commenter")
    comment = CommentFactory.create(author=author, content="Hi there")
    item = api_client.get(f"/api/posts/{comment.post_id}/comments/").json()["results"][0]
    assert set(item) == {"id", "post_id", "author", "content", "created_at", "updated_at"}
    assert item["post_id"] == str(comment.post_id)
    assert item["content"] == "Hi there"
    assert item["author"] == {
        "id": str(author.pk),
        "username": author.username,
        "display_name": "Commenter",
        "avatar": None,
    }


def test_thread_is_paginated_oldest_first_across_pages(api_client: APIClient) -> None:
    post = PostFactory.create()
    author = UserFactory.create()
    comments = Comment.objects.bulk_create(
        Comment(post=post, author=author, content=f"c{i}") for i in range(25)
    )
    first = api_client.get(f"/api/posts/{post.pk}/comments/").json()
    assert len(first["results"]) == 20
    assert first["next"]
    second = api_client.get(first["next"]).json()
    assert second["next"] is None
    seen = [item["content"] for item in first["results"] + second["results"]]
    assert seen == [comment.content for comment in comments]

    limited = api_client.get(f"/api/posts/{post.pk}/comments/?limit=4").json()
    assert [item["content"] for item in limited["results"]] == ["c0", "c1", "c2", "c3"]


def test_thread_of_missing_post_is_404(api_client: APIClient) -> None:
    assert api_client.get("/api/posts/123456789/comments/").status_code == 404


def test_create_comment(make_client: MakeClient) -> None:
    post = PostFactory.create()
    commenter = UserFactory.create()
    body = comment_on(make_client(commenter), post.pk, "First!")
    assert body["content"] == "First!"
    assert body["post_id"] == str(post.pk)
    assert body["author"]["username"] == commenter.username
    comment = Comment.objects.get(pk=int(body["id"]))
    assert (comment.post_id, comment.author_id) == (post.pk, commenter.pk)


def test_create_comment_ignores_author_and_post_in_body(make_client: MakeClient) -> None:
    post, other_post = PostFactory.create(), PostFactory.create()
    commenter, other = UserFactory.create(), UserFactory.create()
    response = make_client(commenter).post(
        f"/api/posts/{post.pk}/comments/",
        {
            "content": "x",
            "post": str(other_post.pk),
            "post_id": str(other_post.pk),
            "author": other.pk,
        },
        format="json",
    )
    assert response.status_code == 201
    comment = Comment.objects.get(pk=int(response.json()["id"]))
    assert (comment.post_id, comment.author_id) == (post.pk, commenter.pk)
    assert comments_count(other_post) == 0


def test_create_comment_on_missing_post_is_404(make_client: MakeClient) -> None:
    response = make_client(UserFactory.create()).post(
        "/api/posts/123456789/comments/", {"content": "x"}, format="json"
    )
    assert response.status_code == 404
    assert not Comment.objects.exists()


def test_create_comment_anonymous_is_401(api_client: APIClient) -> None:
    post = PostFactory.create()
    response = api_client.post(f"/api/posts/{post.pk}/comments/", {"content": "x"}, format="json")
    assert response.status_code == 401
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{}, {"content": ""}, {"content": "x" * 2001}, {"content": {"nested": "object"}}],
)
def test_create_comment_rejects_bad_content(make_client: MakeClient, payload: Any) -> None:
    post = PostFactory.create()
    response = make_client(UserFactory.create()).post(
        f"/api/posts/{post.pk}/comments/", payload, format="json"
    )
    assert response.status_code == 400
    assert "content" in response.json()["fields"]
    assert not Comment.objects.exists()
    assert comments_count(post) == 0


def test_comments_count_is_maintained(make_client: MakeClient) -> None:
    post = PostFactory.create()
    alice, bob = make_client(UserFactory.create()), make_client(UserFactory.create())
    first = comment_on(alice, post.pk)
    comment_on(bob, post.pk)
    comment_on(alice, post.pk)
    assert comments_count(post) == 3
    assert alice.get(f"/api/posts/{post.pk}/").json()["comments_count"] == 3

    assert alice.delete(f"/api/comments/{first['id']}/").status_code == 204
    assert comments_count(post) == 2
    assert alice.delete(f"/api/comments/{first['id']}/").status_code == 404
    assert comments_count(post) == 2


def test_comment_detail(api_client: APIClient) -> None:
    comment = CommentFactory.create(content="Read me")
    response = api_client.get(f"/api/comments/{comment.pk}/")
    assert response.status_code == 200
    assert response.json()["content"] == "Read me"
    assert response.json()["post_id"] == str(comment.post_id)


def test_comment_detail_missing_is_404(api_client: APIClient) -> None:
    assert api_client.get("/api/comments/123456789/").status_code == 404
    assert api_client.get("/api/comments/not-an-id/").status_code == 404


def test_author_can_edit_comment(make_client: MakeClient) -> None:
    post = PostFactory.create()
    client = make_client(UserFactory.create())
    created = comment_on(client, post.pk, "Before")
    response = client.patch(f"/api/comments/{created['id']}/", {"content": "After"}, format="json")
    assert response.status_code == 200
    assert response.json()["content"] == "After"
    assert Comment.objects.get(pk=int(created["id"])).content == "After"


def test_edit_changes_updated_at_only(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = comment_on(client, PostFactory.create().pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Comment.objects.filter(pk=int(created["id"])).update(
        created_at=an_hour_ago, updated_at=an_hour_ago
    )
    body = client.patch(f"/api/comments/{created['id']}/", {"content": "new"}, format="json").json()
    assert parse_datetime(body["created_at"]) == an_hour_ago
    updated_at = parse_datetime(body["updated_at"])
    assert updated_at is not None
    assert updated_at > an_hour_ago + timedelta(minutes=59)


def test_patch_cannot_move_comment_to_another_post(make_client: MakeClient) -> None:
    post, other_post = PostFactory.create(), PostFactory.create()
    client = make_client(UserFactory.create())
    created = comment_on(client, post.pk)
    response = client.patch(
        f"/api/comments/{created['id']}/",
        {"content": "moved?", "post": str(other_post.pk), "post_id": str(other_post.pk)},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["post_id"] == str(post.pk)
    assert Comment.objects.get(pk=int(created["id"])).post_id == post.pk
    assert comments_count(post) == 1
    assert comments_count(other_post) == 0
    assert client.get(f"/api/posts/{other_post.pk}/comments/").json()["results"] == []


def test_patch_cannot_change_comment_author(make_client: MakeClient) -> None:
    author, other = UserFactory.create(), UserFactory.create()
    client = make_client(author)
    created = comment_on(client, PostFactory.create().pk)
    client.patch(
        f"/api/comments/{created['id']}/",
        {"content": "x", "author": str(other.pk), "author_id": other.pk},
        format="json",
    )
    assert Comment.objects.get(pk=int(created["id"])).author_id == author.pk


def test_patch_without_content_changes_nothing(make_client: MakeClient) -> None:
    """PATCH is partial, as the schema documents it (found by tests/test_schemathesis.py: the
    schema made `content` optional, the view refused its absence with a 400)."""
    client = make_client(UserFactory.create())
    created = comment_on(client, PostFactory.create().pk, "Keep")
    response = client.patch(f"/api/comments/{created['id']}/", {}, format="json")
    assert response.status_code == 200
    assert response.json() == created
    assert Comment.objects.get(pk=int(created["id"])).content == "Keep"


def test_patch_with_bad_content_is_400(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = comment_on(client, PostFactory.create().pk, "Keep")
    response = client.patch(f"/api/comments/{created['id']}/", {"content": ""}, format="json")
    assert response.status_code == 400
    assert Comment.objects.get(pk=int(created["id"])).content == "Keep"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_others_cannot_change_a_comment(make_client: MakeClient, method: str) -> None:
    # Not even the post's author may edit someone else's words.
    post_author = UserFactory.create()
    post = PostFactory.create(author=post_author)
    created = comment_on(make_client(UserFactory.create()), post.pk, "Mine")
    for intruder in (UserFactory.create(), post_author):
        response = getattr(make_client(intruder), method)(
            f"/api/comments/{created['id']}/", {"content": "Hacked"}, format="json"
        )
        assert response.status_code == 403
    assert Comment.objects.get(pk=int(created["id"])).content == "Mine"
    assert comments_count(post) == 1


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_anonymous_cannot_change_a_comment(api_client: APIClient, method: str) -> None:
    comment = CommentFactory.create(content="Mine")
    response = getattr(api_client, method)(
        f"/api/comments/{comment.pk}/", {"content": "Hacked"}, format="json"
    )
    assert response.status_code == 401
    assert Comment.objects.get(pk=comment.pk).content == "Mine"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_changing_a_missing_comment_is_404(make_client: MakeClient, method: str) -> None:
    response = getattr(make_client(UserFactory.create()), method)(
        "/api/comments/123456789/", {"content": "x"}, format="json"
    )
    assert response.status_code == 404


def test_deleting_a_comment_removes_its_notification(make_client: MakeClient) -> None:
    author = UserFactory.create()
    post = PostFactory.create(author=author)
    client = make_client(UserFactory.create())
    created = comment_on(client, post.pk)
    assert Notification.objects.filter(recipient=author, kind="comment").count() == 1
    client.delete(f"/api/comments/{created['id']}/")
    assert not Notification.objects.filter(recipient=author).exists()
