"""Edits with history: a post keeps every version, says when it was edited, and those who
liked it are told."""

from collections.abc import Callable
from typing import Any

import pytest
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.core.background import answer_thread
from plaza.graph.services import block_create, follow_create, mute_create, privacy_set
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Post, PostEdit
from tests.factories import UserFactory, upload_for
from tests.helpers import client_for
from tests.races import THREADS, Call, run_together

MakeClient = Callable[[User], APIClient]


def publish(client: APIClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/posts/", fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def history(client: APIClient, post_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/posts/{post_id}/history/?limit=100")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
def test_a_post_never_edited_has_no_history(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    post = publish(client, content="First")
    assert post["edited_at"] is None
    assert history(client, post["id"]) == []
    # Changing nothing readers see is no edit.
    same = client.patch(f"/api/posts/{post['id']}/", {"content": "First"}, format="json").json()
    assert same["edited_at"] is None
    assert history(client, post["id"]) == []


@pytest.mark.django_db
def test_each_edit_keeps_the_versions_before_it(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    picture = upload_for(author, description="A view")
    post = publish(client, title="T", content="Draft #one", media_ids=[str(picture.pk)])
    url = f"/api/posts/{post['id']}/"

    first = client.patch(url, {"content": "Final #two"}, format="json").json()
    second = client.patch(url, {"spoiler_text": "Spoilers", "media_ids": []}, format="json").json()

    assert first["edited_at"] is not None
    first_at, second_at = parse_datetime(first["edited_at"]), parse_datetime(second["edited_at"])
    assert first_at is not None
    assert second_at is not None
    assert second_at > first_at
    versions = history(client, post["id"])
    assert [(v["content"], v["spoiler_text"], v["sensitive"]) for v in versions] == [
        ("Draft #one", "", False),
        ("Final #two", "", False),
        ("Final #two", "Spoilers", True),
    ]
    assert versions[0]["created_at"] == post["created_at"]  # the original, when published
    assert versions[-1]["created_at"] == second["edited_at"]
    assert [v["entities"][0]["name"] for v in versions] == ["one", "two", "two"]
    assert [[m["id"] for m in v["media_attachments"]] for v in versions] == [
        [str(picture.pk)],
        [str(picture.pk)],
        [],
    ]
    assert {v["title"] for v in versions} == {"T"}


@pytest.mark.django_db
def test_a_history_is_seen_by_whoever_sees_the_post(make_client: MakeClient) -> None:
    author, follower, stranger = UserFactory.create_batch(3)
    follow_create(follower=follower, followee=author)
    privacy_set(user=author, is_private=True)
    client = make_client(author)
    post = publish(client, content="Before")
    client.patch(f"/api/posts/{post['id']}/", {"content": "After"}, format="json")

    assert len(history(make_client(follower), post["id"])) == 2
    for outsider in (make_client(stranger), APIClient()):
        assert outsider.get(f"/api/posts/{post['id']}/history/").status_code == 404


@pytest.mark.django_db
def test_a_deleted_post_takes_its_versions(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    post = publish(client, content="Before")
    client.patch(f"/api/posts/{post['id']}/", {"content": "After"}, format="json")
    client.delete(f"/api/posts/{post['id']}/")
    assert not PostEdit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_those_who_liked_a_post_are_told_of_each_edit() -> None:
    author, fan, muter, blocked, bystander = UserFactory.create_batch(5)
    mute_create(muter=muter, muted=author)
    author_client = client_for(author)
    post = publish(author_client, content="Before")
    for liker in (fan, muter, blocked):
        assert client_for(liker).post(f"/api/posts/{post['id']}/like/").status_code == 201
    block_create(blocker=author, blocked=blocked)  # a liker the author blocks is not told
    author_client.post(f"/api/posts/{post['id']}/like/")  # nor is the author, of their own

    author_client.patch(f"/api/posts/{post['id']}/", {"content": "After"}, format="json")
    author_client.patch(f"/api/posts/{post['id']}/", {"content": "Again"}, format="json")
    assert answer_thread.wait_until_idle(timeout=30)

    updates = Notification.objects.filter(kind=NotificationKind.UPDATE)
    assert sorted(updates.values_list("recipient_id", flat=True)) == [fan.pk, fan.pk]
    items = client_for(fan).get("/api/notifications/").json()["results"]
    assert [(item["type"], item["target"]["id"]) for item in items[:2]] == [
        ("update", post["id"]),
        ("update", post["id"]),
    ]
    assert not Notification.objects.filter(recipient=bystander).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_keep_every_version() -> None:
    author = UserFactory.create()
    post = Post.objects.get(pk=publish(client_for(author), content="original")["id"])
    path = f"/api/posts/{post.pk}/"

    statuses = run_together(
        [
            Call(client_for(author), "patch", path, {"content": f"edit {number}"})
            for number in range(THREADS)
        ]
    )
    assert answer_thread.wait_until_idle(timeout=30)

    assert statuses == [200] * THREADS
    contents = list(
        PostEdit.objects.filter(post=post).order_by("id").values_list("content", flat=True)
    )
    assert contents[0] == "original"
    assert sorted(contents[1:]) == sorted(f"edit {number}" for number in range(THREADS))
    post.refresh_from_db()
    assert contents[-1] == post.content
