"""The whole user story, end to end through the HTTP API, as a client app would live it."""

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def signed_in(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def ok(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.content)
    return response.json() if response.content else None


@pytest.mark.real_password_hashing
def test_user_story() -> None:
    anonymous = APIClient()

    # Two people sign up.
    alice_signup = ok(
        anonymous.post(
            "/api/auth/register/",
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD},
            format="json",
        ),
        201,
    )
    assert alice_signup["user"]["username"] == "alice"
    assert alice_signup["user"]["email"] == "alice@example.com"
    alice = signed_in(alice_signup["token"])
    bob_signup = ok(
        anonymous.post(
            "/api/auth/register/",
            {"username": "bob", "email": "bob@example.com", "password": PASSWORD},
            format="json",
        ),
        201,
    )
    bob_phone = signed_in(bob_signup["token"])

    # Bob signs in on a second device, with his email address this time.
    bob_login = ok(
        anonymous.post(
            "/api/auth/login/",
            {"username": "bob@example.com", "password": PASSWORD, "device": "laptop"},
            format="json",
        ),
        200,
    )
    assert bob_login["user"]["username"] == "bob"
    assert bob_login["token"] != bob_signup["token"]
    bob = signed_in(bob_login["token"])
    assert ok(bob.get("/api/me/"), 200)["username"] == "bob"

    # Alice posts.
    post = ok(
        alice.post(
            "/api/posts/", {"title": "Hello Plaza", "content": "My first post."}, format="json"
        ),
        201,
    )
    post_id = post["id"]
    assert post["author"]["username"] == "alice"

    # Bob cannot see it in his feed until he follows her.
    assert ok(bob.get("/api/feed/"), 200)["results"] == []
    ok(bob.post("/api/users/alice/follow/"), 201)
    ok(bob.post("/api/users/alice/follow/"), 200)
    alice_profile = ok(bob.get("/api/users/alice/"), 200)
    assert alice_profile["followers_count"] == 1
    assert alice_profile["posts_count"] == 1
    assert alice_profile["is_following"] is True
    assert "email" not in alice_profile

    feed = ok(bob.get("/api/feed/"), 200)["results"]
    assert [item["id"] for item in feed] == [post_id]
    assert feed[0]["liked_by_me"] is False

    # He likes it and comments.
    assert ok(bob.post(f"/api/posts/{post_id}/like/"), 201)["likes_count"] == 1
    comment = ok(
        bob.post(f"/api/posts/{post_id}/comments/", {"content": "Welcome!"}, format="json"), 201
    )
    feed = ok(bob.get("/api/feed/"), 200)["results"]
    assert feed[0]["liked_by_me"] is True
    assert feed[0]["likes_count"] == 1
    assert feed[0]["comments_count"] == 1
    thread = ok(alice.get(f"/api/posts/{post_id}/comments/"), 200)["results"]
    assert [item["content"] for item in thread] == ["Welcome!"]
    likers = ok(alice.get(f"/api/posts/{post_id}/likes/"), 200)["results"]
    assert [item["user"]["username"] for item in likers] == ["bob"]

    # Alice is told, newest first.
    assert ok(alice.get("/api/notifications/unread-count/"), 200) == {"count": 3}
    notifications = ok(alice.get("/api/notifications/"), 200)["results"]
    assert [item["type"] for item in notifications] == ["comment", "like", "follow"]
    assert {item["actor"]["username"] for item in notifications} == {"bob"}
    assert notifications[0]["target"]["id"] == comment["id"]
    assert notifications[0]["target"]["post_id"] == post_id
    assert notifications[1]["target"] == {"type": "post", "id": post_id, "summary": "Hello Plaza"}
    assert notifications[2]["target"]["type"] == "user"
    assert ok(bob.get("/api/notifications/unread-count/"), 200) == {"count": 0}

    # She reads them all.
    assert ok(alice.post("/api/notifications/read-all/"), 200) == {"updated": 3}
    assert ok(alice.get("/api/notifications/unread-count/"), 200) == {"count": 0}
    assert ok(alice.get("/api/notifications/?unread=true"), 200)["results"] == []

    # Bob changes his mind: unlike, unfollow.
    ok(bob.delete(f"/api/posts/{post_id}/like/"), 204)
    assert ok(bob.get(f"/api/posts/{post_id}/"), 200)["likes_count"] == 0
    ok(bob.delete("/api/users/alice/follow/"), 204)
    assert ok(bob.get("/api/feed/"), 200)["results"] == []
    assert ok(anonymous.get("/api/users/alice/"), 200)["followers_count"] == 0
    remaining = ok(alice.get("/api/notifications/"), 200)["results"]
    assert [item["type"] for item in remaining] == ["comment"]

    # He signs out on the laptop: that token is revoked, the phone's is not.
    ok(bob.post("/api/auth/logout/"), 204)
    assert bob.get("/api/me/").status_code == 401
    assert bob.get("/api/feed/").status_code == 401
    assert bob.post("/api/posts/", {"title": "t", "content": "c"}, format="json").status_code == 401
    assert ok(bob_phone.get("/api/me/"), 200)["username"] == "bob"
