"""Posts through the API: listing, search, author filter, create, edit, delete, permissions."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Like, Post
from tests.factories import PostFactory, UserFactory, upload_for

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]
POST_FIELDS = {
    "id",
    "author",
    "title",
    "content",
    "spoiler_text",
    "sensitive",
    "entities",
    "visibility",
    "media_attachments",
    "created_at",
    "updated_at",
    "edited_at",
    "likes_count",
    "comments_count",
    "reposts_count",
    "liked_by_me",
    "bookmarked_by_me",
    "pinned_by_me",
    "reposted_by_me",
}


def create_post(client: APIClient, title: str = "Hello", content: str = "World") -> dict[str, Any]:
    response = client.post("/api/posts/", {"title": title, "content": content}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def titles(response: Any) -> list[str]:
    return [post["title"] for post in response.json()["results"]]


# --- List and filters -----------------------------------------------------------------------


def test_list_is_newest_first_and_paginated(api_client: APIClient) -> None:
    posts = [PostFactory.create() for _ in range(3)]
    response = api_client.get("/api/posts/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [post["id"] for post in body["results"]] == [str(post.pk) for post in reversed(posts)]


def test_list_renders_every_field(make_client: MakeClient) -> None:
    author = UserFactory.create(display_name="Ada")
    post = PostFactory.create(author=author, title="T", content="C")
    body = make_client(UserFactory.create()).get("/api/posts/").json()["results"][0]
    assert set(body) == POST_FIELDS
    assert body["id"] == str(post.pk)
    assert isinstance(body["id"], str)
    assert body["author"] == {
        "id": str(author.pk),
        "username": author.username,
        "display_name": "Ada",
        "avatar": None,
    }
    assert body["title"] == "T"
    assert body["content"] == "C"
    assert body["likes_count"] == 0
    assert body["comments_count"] == 0
    assert body["liked_by_me"] is False


def test_list_default_page_is_20_and_limit_is_capped(api_client: APIClient) -> None:
    author = UserFactory.create()
    Post.objects.bulk_create(Post(author=author, title=f"p{i}", content="x") for i in range(105))
    assert len(api_client.get("/api/posts/").json()["results"]) == 20
    assert len(api_client.get("/api/posts/?limit=7").json()["results"]) == 7
    assert len(api_client.get("/api/posts/?limit=1000").json()["results"]) == 100


def test_search_matches_title_and_content_case_insensitively(api_client: APIClient) -> None:
    PostFactory.create(title="All about Django", content="web")
    PostFactory.create(title="Gardening", content="Tomatoes love DJANGO music")
    PostFactory.create(title="Cooking", content="Pasta")
    response = api_client.get("/api/posts/?search=django")
    assert response.status_code == 200
    assert sorted(titles(response)) == ["All about Django", "Gardening"]
    assert titles(api_client.get("/api/posts/?search=PASTA")) == ["Cooking"]
    assert titles(api_client.get("/api/posts/?search=nothing-matches")) == []


def test_blank_search_lists_everything(api_client: APIClient) -> None:
    PostFactory.create_batch(2)
    assert len(api_client.get("/api/posts/?search=").json()["results"]) == 2


def test_overlong_search_is_400_not_500(api_client: APIClient) -> None:
    response = api_client.get("/api/posts/", {"search": "x" * 500})
    assert response.status_code == 400
    assert "search" in response.json()["fields"]


def test_author_filter_is_case_insensitive(api_client: APIClient) -> None:
    ada = UserFactory.create(username="AdaLovelace")
    mine = PostFactory.create(author=ada)
    PostFactory.create()
    response = api_client.get("/api/posts/?author=adalovelace")
    assert response.status_code == 200
    assert [post["id"] for post in response.json()["results"]] == [str(mine.pk)]


def test_author_and_search_combine(api_client: APIClient) -> None:
    ada = UserFactory.create()
    # Fixed content: random text could contain "cat" ("education") and match by chance.
    PostFactory.create(author=ada, title="cats", content="Purring.")
    PostFactory.create(author=ada, title="dogs", content="Barking.")
    PostFactory.create(title="cats too", content="Purring.")
    response = api_client.get(f"/api/posts/?author={ada.username}&search=cat")
    assert titles(response) == ["cats"]


def test_unknown_author_is_400(api_client: APIClient) -> None:
    PostFactory.create()
    response = api_client.get("/api/posts/?author=nobody_here")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "author" in body["fields"]


# --- Create ---------------------------------------------------------------------------------


def test_create_returns_201_with_the_post(make_client: MakeClient) -> None:
    author = UserFactory.create()
    body = create_post(make_client(author), "My title", "My content")
    assert set(body) == POST_FIELDS
    assert body["author"]["username"] == author.username
    assert body["title"] == "My title"
    assert body["content"] == "My content"
    assert body["likes_count"] == body["comments_count"] == 0
    assert body["liked_by_me"] is False
    post = Post.objects.get(pk=int(body["id"]))
    assert post.author_id == author.pk
    author.refresh_from_db()
    assert author.posts_count == 1


def test_create_anonymous_is_401(api_client: APIClient) -> None:
    response = api_client.post("/api/posts/", {"title": "t", "content": "c"}, format="json")
    assert response.status_code == 401
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("payload", "bad_field"),
    [
        ({}, "content"),
        ({"title": "t"}, "content"),
        ({"title": "t", "content": "   "}, "content"),
        ({"spoiler_text": "Only a warning"}, "content"),
        ({"title": "x" * 201, "content": "c"}, "title"),
        ({"title": "t", "content": "x" * 5001}, "content"),
        ({"title": ["a"], "content": "c"}, "title"),
        ({"content": "c", "spoiler_text": "x" * 201}, "spoiler_text"),
        ({"content": "c", "sensitive": "maybe"}, "sensitive"),
    ],
)
def test_create_rejects_bad_fields(
    make_client: MakeClient, payload: dict[str, Any], bad_field: str
) -> None:
    author = UserFactory.create()
    response = make_client(author).post("/api/posts/", payload, format="json")
    assert response.status_code == 400
    assert bad_field in response.json()["fields"]
    assert not Post.objects.exists()
    author.refresh_from_db()
    assert author.posts_count == 0


def test_a_post_needs_no_title(make_client: MakeClient) -> None:
    response = make_client(UserFactory.create()).post(
        "/api/posts/", {"content": "Just text"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["content"]) == ("", "Just text")
    assert Post.objects.get(pk=int(body["id"])).title == ""


def test_a_post_needs_content_or_pictures(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    refused = client.post("/api/posts/", {"title": "A heading alone"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "empty_post"
    assert list(refused.json()["fields"]) == ["content"]

    picture = upload_for(author)
    response = client.post("/api/posts/", {"media_ids": [str(picture.pk)]}, format="json")
    assert response.status_code == 201
    assert response.json()["content"] == ""
    assert [item["id"] for item in response.json()["media_attachments"]] == [str(picture.pk)]


def test_an_edit_cannot_leave_a_post_empty(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    text_only = create_post(client, "", "Words")
    picture = upload_for(author)
    pictured = client.post(
        "/api/posts/", {"content": "", "media_ids": [str(picture.pk)]}, format="json"
    ).json()

    for post_id, edit in [
        (text_only["id"], {"content": ""}),
        (text_only["id"], {"content": " ", "media_ids": []}),
        (pictured["id"], {"media_ids": []}),
    ]:
        response = client.patch(f"/api/posts/{post_id}/", edit, format="json")
        assert response.status_code == 400, edit
        assert response.json()["code"] == "empty_post"
    assert Post.objects.get(pk=int(text_only["id"])).content == "Words"
    assert list(Post.objects.get(pk=int(pictured["id"])).media.values_list("pk", flat=True)) == [
        picture.pk
    ]
    # Text taking the place of the pictures is a post still.
    response = client.patch(
        f"/api/posts/{pictured['id']}/", {"content": "Now words", "media_ids": []}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["media_attachments"] == []


def test_a_content_warning_marks_the_post_sensitive(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    response = client.post(
        "/api/posts/", {"content": "The ending", "spoiler_text": "Film spoilers"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["spoiler_text"], body["sensitive"]) == ("Film spoilers", True)
    url = f"/api/posts/{body['id']}/"
    # While the warning stands, the pictures stay hidden whatever the edit says.
    assert client.patch(url, {"sensitive": False}, format="json").json()["sensitive"] is True
    lifted = client.patch(url, {"spoiler_text": "", "sensitive": False}, format="json").json()
    assert (lifted["spoiler_text"], lifted["sensitive"]) == ("", False)
    marked = client.patch(url, {"sensitive": True}, format="json").json()
    assert (marked["spoiler_text"], marked["sensitive"]) == ("", True)
    post = Post.objects.get(pk=int(body["id"]))
    assert (post.content, post.spoiler_text, post.sensitive) == ("The ending", "", True)


def test_a_put_replaces_the_warning_a_patch_keeps_it(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = client.post(
        "/api/posts/", {"content": "c", "spoiler_text": "cw"}, format="json"
    ).json()
    url = f"/api/posts/{created['id']}/"
    assert client.patch(url, {"content": "d"}, format="json").json()["spoiler_text"] == "cw"
    replaced = client.put(url, {"content": "e"}, format="json").json()
    assert (replaced["spoiler_text"], replaced["sensitive"], replaced["content"]) == (
        "",
        False,
        "e",
    )


def test_a_notification_about_a_post_never_shows_what_its_warning_hides(
    make_client: MakeClient,
) -> None:
    author, reader = UserFactory.create(), UserFactory.create()
    created = (
        make_client(author)
        .post(
            "/api/posts/", {"content": "Who did it", "spoiler_text": "Mystery novel"}, format="json"
        )
        .json()
    )
    make_client(reader).post(f"/api/posts/{created['id']}/like/")
    (item,) = make_client(author).get("/api/notifications/").json()["results"]
    assert item["target"]["summary"] == "Mystery novel"


def test_create_accepts_the_maximum_lengths(make_client: MakeClient) -> None:
    body = create_post(make_client(UserFactory.create()), "x" * 200, "y" * 5000)
    assert len(body["title"]) == 200
    assert len(body["content"]) == 5000


def test_create_with_malformed_json_is_400(make_client: MakeClient) -> None:
    response = make_client(UserFactory.create()).post(
        "/api/posts/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


def test_create_ignores_server_owned_fields(make_client: MakeClient) -> None:
    author, other = UserFactory.create(), UserFactory.create()
    existing = PostFactory.create()
    long_ago = "2001-01-01T00:00:00Z"
    body = (
        make_client(author)
        .post(
            "/api/posts/",
            {
                "title": "t",
                "content": "c",
                "id": str(existing.pk),
                "author": str(other.pk),
                "author_id": other.pk,
                "likes_count": 99,
                "comments_count": 42,
                "liked_by_me": True,
                "created_at": long_ago,
                "updated_at": long_ago,
            },
            format="json",
        )
        .json()
    )
    assert body["id"] != str(existing.pk)
    assert body["author"]["id"] == str(author.pk)
    assert body["likes_count"] == 0
    assert body["comments_count"] == 0
    assert body["liked_by_me"] is False
    assert not body["created_at"].startswith("2001")
    assert not body["updated_at"].startswith("2001")
    post = Post.objects.get(pk=int(body["id"]))
    assert (post.author_id, post.likes_count, post.comments_count) == (author.pk, 0, 0)
    assert Post.objects.filter(pk=existing.pk, author=existing.author).exists()
    other.refresh_from_db()
    assert other.posts_count == 0


# --- Detail ---------------------------------------------------------------------------------


def test_detail(api_client: APIClient) -> None:
    post = PostFactory.create(title="Seen")
    response = api_client.get(f"/api/posts/{post.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == POST_FIELDS
    assert body["id"] == str(post.pk)
    assert body["title"] == "Seen"
    assert body["liked_by_me"] is None


def test_detail_missing_is_404(api_client: APIClient) -> None:
    response = api_client.get("/api/posts/123456789/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("post_id", ["abc", "-1", "99999999999999999999", "9223372036854775808"])
def test_detail_with_impossible_id_is_404_not_500(api_client: APIClient, post_id: str) -> None:
    assert api_client.get(f"/api/posts/{post_id}/").status_code == 404


# --- Update ---------------------------------------------------------------------------------


def test_author_can_patch(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    created = create_post(client, "Before", "Body")
    response = client.patch(f"/api/posts/{created['id']}/", {"title": "After"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "After"
    assert response.json()["content"] == "Body"
    post = Post.objects.get(pk=int(created["id"]))
    assert (post.title, post.content) == ("After", "Body")


def test_author_can_put(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = create_post(client, "Before", "Body")
    response = client.put(
        f"/api/posts/{created['id']}/", {"title": "New", "content": "Whole"}, format="json"
    )
    assert response.status_code == 200
    post = Post.objects.get(pk=int(created["id"]))
    assert (post.title, post.content) == ("New", "Whole")


def test_put_needs_every_field(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = create_post(client, "Before", "Body")
    response = client.put(f"/api/posts/{created['id']}/", {"title": "Only"}, format="json")
    assert response.status_code == 400
    assert "content" in response.json()["fields"]
    assert Post.objects.get(pk=int(created["id"])).title == "Before"


def test_patch_validates_lengths(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = create_post(client)
    response = client.patch(f"/api/posts/{created['id']}/", {"title": "x" * 201}, format="json")
    assert response.status_code == 400
    assert Post.objects.get(pk=int(created["id"])).title == "Hello"


def test_edit_changes_updated_at(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    created = create_post(client)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Post.objects.filter(pk=int(created["id"])).update(
        created_at=an_hour_ago, updated_at=an_hour_ago
    )

    body = client.patch(f"/api/posts/{created['id']}/", {"content": "edited"}, format="json").json()
    updated_at = parse_datetime(body["updated_at"])
    created_at = parse_datetime(body["created_at"])
    assert updated_at is not None
    assert created_at == an_hour_ago
    assert updated_at > an_hour_ago + timedelta(minutes=59)
    assert Post.objects.get(pk=int(created["id"])).updated_at == updated_at


def test_update_ignores_server_owned_fields(make_client: MakeClient) -> None:
    author, other = UserFactory.create(), UserFactory.create()
    client = make_client(author)
    created = create_post(client)
    for method in (client.patch, client.put):
        response = method(
            f"/api/posts/{created['id']}/",
            {
                "title": "t2",
                "content": "c2",
                "id": "1",
                "author": str(other.pk),
                "likes_count": 7,
                "comments_count": 8,
                "created_at": "2001-01-01T00:00:00Z",
            },
            format="json",
        )
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == created["id"]
        assert body["author"]["id"] == str(author.pk)
        assert body["created_at"] == created["created_at"]
    post = Post.objects.get(pk=int(created["id"]))
    assert (post.author_id, post.likes_count, post.comments_count) == (author.pk, 0, 0)
    assert not Post.objects.filter(pk=1).exists()


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_others_cannot_change_a_post(make_client: MakeClient, method: str) -> None:
    author = UserFactory.create()
    created = create_post(make_client(author), "Mine", "Mine")
    intruder = make_client(UserFactory.create())
    response = getattr(intruder, method)(
        f"/api/posts/{created['id']}/", {"title": "Hacked", "content": "Hacked"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    post = Post.objects.get(pk=int(created["id"]))
    assert (post.title, post.content) == ("Mine", "Mine")
    author.refresh_from_db()
    assert author.posts_count == 1


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_anonymous_cannot_change_a_post(api_client: APIClient, method: str) -> None:
    post = PostFactory.create(title="Mine")
    response = getattr(api_client, method)(
        f"/api/posts/{post.pk}/", {"title": "Hacked", "content": "x"}, format="json"
    )
    assert response.status_code == 401
    assert Post.objects.get(pk=post.pk).title == "Mine"


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_changing_a_missing_post_is_404(make_client: MakeClient, method: str) -> None:
    response = getattr(make_client(UserFactory.create()), method)(
        "/api/posts/123456789/", {"title": "t", "content": "c"}, format="json"
    )
    assert response.status_code == 404


# --- Delete ---------------------------------------------------------------------------------


def test_delete_removes_post_comments_likes_notifications_and_decrements_count(
    make_client: MakeClient,
) -> None:
    author, fan = UserFactory.create(), UserFactory.create()
    author_client, fan_client = make_client(author), make_client(fan)
    doomed = create_post(author_client, "Doomed", "x")
    kept = create_post(author_client, "Kept", "y")
    for post in (doomed, kept):
        assert fan_client.post(f"/api/posts/{post['id']}/like/").status_code == 201
        assert (
            fan_client.post(
                f"/api/posts/{post['id']}/comments/", {"content": "nice"}, format="json"
            ).status_code
            == 201
        )
    fan_client.post(f"/api/users/{author.username}/follow/")
    assert Notification.objects.filter(recipient=author).count() == 5

    response = author_client.delete(f"/api/posts/{doomed['id']}/")
    assert response.status_code == 204
    doomed_id = int(doomed["id"])
    assert not Post.objects.filter(pk=doomed_id).exists()
    assert not Comment.objects.filter(post_id=doomed_id).exists()
    assert not Like.objects.filter(post_id=doomed_id).exists()
    # The kept post's like and comment notifications and the follow notification remain.
    assert sorted(Notification.objects.filter(recipient=author).values_list("kind", flat=True)) == [
        "comment",
        "follow",
        "like",
    ]
    assert Comment.objects.filter(post_id=int(kept["id"])).count() == 1
    assert Like.objects.filter(post_id=int(kept["id"])).count() == 1
    author.refresh_from_db()
    assert author.posts_count == 1
    assert author_client.get(f"/api/posts/{doomed['id']}/").status_code == 404
    listed = author_client.get("/api/notifications/").json()["results"]
    assert len(listed) == 3
    assert all(item["target"] is not None for item in listed)


def test_delete_twice_is_404_and_counts_once(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    created = create_post(client)
    create_post(client)
    assert client.delete(f"/api/posts/{created['id']}/").status_code == 204
    assert client.delete(f"/api/posts/{created['id']}/").status_code == 404
    author.refresh_from_db()
    assert author.posts_count == 1
