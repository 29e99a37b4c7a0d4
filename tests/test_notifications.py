"""Notifications: which events make them, one per event, listing, reading, privacy."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.notifications.models import Notification
from plaza.posts.models import Post
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def listed(client: APIClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/notifications/{query}")
    assert response.status_code == 200, response.content
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def unread_count(client: APIClient) -> int:
    response = client.get("/api/notifications/unread-count/")
    assert response.status_code == 200
    count: int = response.json()["count"]
    return count


def like(client: APIClient, post: Post) -> None:
    assert client.post(f"/api/posts/{post.pk}/like/").status_code in (200, 201)


def comment(client: APIClient, post: Post, content: str = "Nice post") -> dict[str, Any]:
    response = client.post(f"/api/posts/{post.pk}/comments/", {"content": content}, format="json")
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def follow(client: APIClient, user: User) -> None:
    assert client.post(f"/api/users/{user.username}/follow/").status_code in (200, 201)


@pytest.fixture
def owner() -> User:
    return UserFactory.create(username="owner")


@pytest.fixture
def actor() -> User:
    return UserFactory.create(username="actor", display_name="The Actor")


@pytest.fixture
def owner_client(owner: User, make_client: MakeClient) -> APIClient:
    return make_client(owner)


@pytest.fixture
def actor_client(actor: User, make_client: MakeClient) -> APIClient:
    return make_client(actor)


# --- Which events notify --------------------------------------------------------------------


def test_follow_notifies_with_user_target(
    owner: User, actor: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    follow(actor_client, owner)
    [item] = listed(owner_client)
    assert set(item) == {"id", "type", "actor", "target", "read", "created_at"}
    assert item["type"] == "follow"
    assert item["read"] is False
    assert isinstance(item["id"], str)
    assert item["actor"] == {
        "id": str(actor.pk),
        "username": "actor",
        "display_name": "The Actor",
        "avatar": None,
    }
    assert item["target"] == {"type": "user", "id": str(actor.pk), "summary": "@actor"}


def test_like_notifies_with_post_target(
    owner: User, actor: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner, title="My  holiday\nphotos")
    like(actor_client, post)
    [item] = listed(owner_client)
    assert item["type"] == "like"
    assert item["actor"]["username"] == "actor"
    assert item["target"] == {"type": "post", "id": str(post.pk), "summary": "My holiday photos"}


def test_comment_notifies_with_comment_target(
    owner: User, actor: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    made = comment(actor_client, post, "x" * 300)
    [item] = listed(owner_client)
    assert item["type"] == "comment"
    assert item["target"]["type"] == "comment"
    assert item["target"]["id"] == made["id"]
    assert item["target"]["post_id"] == str(post.pk)
    summary = item["target"]["summary"]
    assert 0 < len(summary) <= 80
    assert summary.startswith("xxx")


def test_no_notification_for_own_actions_on_own_things(
    owner: User, owner_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    like(owner_client, post)
    comment(owner_client, post)
    assert owner_client.post(f"/api/users/{owner.username}/follow/").status_code == 400
    assert not Notification.objects.exists()
    assert listed(owner_client) == []
    assert unread_count(owner_client) == 0


def test_commenting_on_someone_elses_post_notifies_only_its_author(
    owner: User, actor: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    comment(owner_client, post)  # the author answers in their own thread: nobody notified
    comment(actor_client, post)
    assert Notification.objects.count() == 1
    assert listed(actor_client) == []


def test_exactly_one_notification_per_event(
    owner: User, actor: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    like(actor_client, post)
    like(actor_client, post)
    follow(actor_client, owner)
    follow(actor_client, owner)
    assert Notification.objects.filter(recipient=owner, kind="like").count() == 1
    assert Notification.objects.filter(recipient=owner, kind="follow").count() == 1
    comment(actor_client, post)
    comment(actor_client, post)
    # Two comments are two events.
    assert Notification.objects.filter(recipient=owner, kind="comment").count() == 2
    assert unread_count(owner_client) == 4


def test_unlike_removes_the_notification(
    owner: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    like(actor_client, post)
    assert unread_count(owner_client) == 1
    assert actor_client.delete(f"/api/posts/{post.pk}/like/").status_code == 204
    assert listed(owner_client) == []
    assert unread_count(owner_client) == 0
    like(actor_client, post)
    assert [item["type"] for item in listed(owner_client)] == ["like"]


def test_unfollow_removes_the_notification(
    owner: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    follow(actor_client, owner)
    actor_client.delete(f"/api/users/{owner.username}/follow/")
    assert listed(owner_client) == []
    assert unread_count(owner_client) == 0


def test_undoing_an_event_leaves_other_notifications(
    owner: User, owner_client: APIClient, actor_client: APIClient, make_client: MakeClient
) -> None:
    post = PostFactory.create(author=owner)
    other_client = make_client(UserFactory.create())
    like(actor_client, post)
    like(other_client, post)
    follow(actor_client, owner)
    actor_client.delete(f"/api/posts/{post.pk}/like/")
    kinds = [(item["type"], item["actor"]["username"]) for item in listed(owner_client)]
    assert kinds == [("follow", "actor"), ("like", kinds[1][1])]
    assert kinds[1][1] != "actor"


# --- Listing --------------------------------------------------------------------------------


def test_list_is_newest_first(
    owner: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    follow(actor_client, owner)
    like(actor_client, post)
    comment(actor_client, post)
    assert [item["type"] for item in listed(owner_client)] == ["comment", "like", "follow"]


def test_list_is_paginated(owner: User, owner_client: APIClient, make_client: MakeClient) -> None:
    post = PostFactory.create(author=owner)
    fans = [make_client(UserFactory.create()) for _ in range(3)]
    for _ in range(8):
        for fan in fans:
            comment(fan, post)
    body = owner_client.get("/api/notifications/").json()
    assert set(body) == {"next", "previous", "results"}
    assert len(body["results"]) == 20
    rest = owner_client.get(body["next"]).json()
    assert len(rest["results"]) == 4
    assert rest["next"] is None
    all_ids = [item["id"] for item in body["results"] + rest["results"]]
    assert len(set(all_ids)) == 24
    assert all_ids == sorted(all_ids, key=int, reverse=True)
    assert len(owner_client.get("/api/notifications/?limit=5").json()["results"]) == 5


def test_unread_filter(owner: User, owner_client: APIClient, actor_client: APIClient) -> None:
    post = PostFactory.create(author=owner)
    follow(actor_client, owner)
    like(actor_client, post)
    follow_item = next(item for item in listed(owner_client) if item["type"] == "follow")
    owner_client.post(f"/api/notifications/{follow_item['id']}/read/")

    assert [item["type"] for item in listed(owner_client, "?unread=true")] == ["like"]
    assert [item["type"] for item in listed(owner_client, "?unread=false")] == ["like", "follow"]
    assert [item["type"] for item in listed(owner_client)] == ["like", "follow"]


def test_unread_filter_survives_paging(
    owner: User, owner_client: APIClient, make_client: MakeClient
) -> None:
    post = PostFactory.create(author=owner)
    fan = make_client(UserFactory.create())
    for _ in range(4):
        comment(fan, post)
    oldest_read = listed(owner_client)[-1]
    owner_client.post(f"/api/notifications/{oldest_read['id']}/read/")
    for _ in range(3):
        comment(fan, post)

    page = owner_client.get("/api/notifications/?unread=true&limit=4").json()
    seen = [item["id"] for item in page["results"]]
    assert "unread=true" in page["next"]
    page = owner_client.get(page["next"]).json()
    seen += [item["id"] for item in page["results"]]
    assert page["next"] is None
    assert len(seen) == len(set(seen)) == 6
    assert oldest_read["id"] not in seen


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_invalid_unread_filter_is_400(owner_client: APIClient, value: str) -> None:
    response = owner_client.get("/api/notifications/", {"unread": value})
    assert response.status_code == 400
    assert "unread" in response.json()["fields"]


def test_list_needs_authentication(api_client: APIClient) -> None:
    assert api_client.get("/api/notifications/").status_code == 401
    assert api_client.get("/api/notifications/unread-count/").status_code == 401
    assert api_client.post("/api/notifications/read-all/").status_code == 401
    assert api_client.post("/api/notifications/123/read/").status_code == 401


def test_other_users_notifications_are_not_listed(
    owner: User, owner_client: APIClient, actor_client: APIClient, make_client: MakeClient
) -> None:
    follow(actor_client, owner)
    bystander = make_client(UserFactory.create())
    assert listed(bystander) == []
    assert unread_count(bystander) == 0
    assert listed(actor_client) == []


def test_notifications_of_deleted_post_disappear(
    owner: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    made = owner_client.post("/api/posts/", {"title": "t", "content": "c"}, format="json").json()
    post = Post.objects.get(pk=int(made["id"]))
    like(actor_client, post)
    comment(actor_client, post)
    follow(actor_client, owner)
    assert unread_count(owner_client) == 3
    assert owner_client.delete(f"/api/posts/{made['id']}/").status_code == 204
    assert [item["type"] for item in listed(owner_client)] == ["follow"]
    assert unread_count(owner_client) == 1


# --- Reading --------------------------------------------------------------------------------


def test_mark_one_read(owner: User, owner_client: APIClient, actor_client: APIClient) -> None:
    post = PostFactory.create(author=owner)
    follow(actor_client, owner)
    like(actor_client, post)
    like_item, follow_item = listed(owner_client)
    assert unread_count(owner_client) == 2

    response = owner_client.post(f"/api/notifications/{like_item['id']}/read/")
    assert response.status_code == 200
    assert response.json()["id"] == like_item["id"]
    assert response.json()["read"] is True
    assert unread_count(owner_client) == 1
    states = {item["id"]: item["read"] for item in listed(owner_client)}
    assert states == {like_item["id"]: True, follow_item["id"]: False}

    # Marking it again is harmless.
    assert owner_client.post(f"/api/notifications/{like_item['id']}/read/").status_code == 200
    assert unread_count(owner_client) == 1


def test_mark_all_read_reports_how_many(
    owner: User, owner_client: APIClient, actor_client: APIClient
) -> None:
    post = PostFactory.create(author=owner)
    follow(actor_client, owner)
    like(actor_client, post)
    comment(actor_client, post)
    first = listed(owner_client)[0]
    owner_client.post(f"/api/notifications/{first['id']}/read/")

    response = owner_client.post("/api/notifications/read-all/")
    assert response.status_code == 200
    assert response.json() == {"updated": 2}
    assert unread_count(owner_client) == 0
    assert all(item["read"] for item in listed(owner_client))
    assert listed(owner_client, "?unread=true") == []

    assert owner_client.post("/api/notifications/read-all/").json() == {"updated": 0}


def test_mark_all_read_leaves_other_users_alone(
    owner: User, owner_client: APIClient, actor_client: APIClient, make_client: MakeClient
) -> None:
    other = UserFactory.create()
    other_client = make_client(other)
    follow(actor_client, owner)
    follow(actor_client, other)
    assert owner_client.post("/api/notifications/read-all/").json() == {"updated": 1}
    assert unread_count(other_client) == 1


def test_cannot_read_another_users_notification(
    owner: User, owner_client: APIClient, actor_client: APIClient, make_client: MakeClient
) -> None:
    follow(actor_client, owner)
    [item] = listed(owner_client)
    intruder = make_client(UserFactory.create())
    response = intruder.post(f"/api/notifications/{item['id']}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    # The actor did cause it, but it is still not theirs.
    assert actor_client.post(f"/api/notifications/{item['id']}/read/").status_code == 404
    assert Notification.objects.get(pk=int(item["id"])).read is False
    assert unread_count(owner_client) == 1


def test_mark_missing_notification_is_404(owner_client: APIClient) -> None:
    assert owner_client.post("/api/notifications/123456789/read/").status_code == 404
    assert owner_client.post("/api/notifications/abc/read/").status_code == 404
