"""Following and unfollowing through the API: status codes, lists, counters, notifications."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.notifications.models import Notification
from tests.factories import FollowFactory, UserFactory
from tests.helpers import follow_url

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


def test_follow_creates_row_and_answers_201(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    response = make_client(alice).post(follow_url(bob))
    assert response.status_code == 201, response.content
    assert response.json()["following"]["username"] == bob.username
    assert response.json()["following"]["id"] == str(bob.pk)
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1


def test_follow_again_answers_200_and_changes_nothing(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    client = make_client(alice)
    assert client.post(follow_url(bob)).status_code == 201
    response = client.post(follow_url(bob))
    assert response.status_code == 200
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
    assert counts(bob) == (1, 0)
    assert counts(alice) == (0, 1)
    assert Notification.objects.filter(recipient=bob).count() == 1


def test_follow_is_case_insensitive_on_username(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create(username="BobTheBuilder")
    response = make_client(alice).post("/api/users/bobthebuilder/follow/")
    assert response.status_code == 201
    assert Follow.objects.filter(follower=alice, followee=bob).exists()


def test_following_yourself_is_400_and_makes_no_row(make_client: MakeClient) -> None:
    alice = UserFactory.create()
    response = make_client(alice).post(follow_url(alice))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "cannot_follow_self"
    assert set(body) == {"code", "message", "fields"}
    assert not Follow.objects.exists()
    assert counts(alice) == (0, 0)


def test_following_unknown_user_is_404(make_client: MakeClient) -> None:
    response = make_client(UserFactory.create()).post("/api/users/nobody_here/follow/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Follow.objects.exists()


def test_unfollowing_unknown_user_is_404(make_client: MakeClient) -> None:
    assert (
        make_client(UserFactory.create()).delete("/api/users/nobody_here/follow/").status_code
        == 404
    )


def test_following_an_inactive_user_is_404(make_client: MakeClient) -> None:
    gone = UserFactory.create(is_active=False)
    assert make_client(UserFactory.create()).post(follow_url(gone)).status_code == 404
    assert not Follow.objects.exists()


def test_anonymous_cannot_follow_or_unfollow(api_client: APIClient) -> None:
    bob = UserFactory.create()
    assert api_client.post(follow_url(bob)).status_code == 401
    assert api_client.delete(follow_url(bob)).status_code == 401
    assert not Follow.objects.exists()


def test_invalid_token_is_401(api_client: APIClient) -> None:
    bob = UserFactory.create()
    api_client.credentials(HTTP_AUTHORIZATION="Token plz_not-a-real-token")
    assert api_client.post(follow_url(bob)).status_code == 401


def test_unfollow_answers_204_and_removes_row(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    client = make_client(alice)
    client.post(follow_url(bob))
    response = client.delete(follow_url(bob))
    assert response.status_code == 204
    assert not Follow.objects.filter(follower=alice, followee=bob).exists()


def test_unfollow_when_not_following_is_204(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    response = make_client(alice).delete(follow_url(bob))
    assert response.status_code == 204
    assert counts(alice) == (0, 0)
    assert counts(bob) == (0, 0)


def test_unfollow_does_not_touch_the_reverse_follow(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    make_client(alice).post(follow_url(bob))
    make_client(bob).post(follow_url(alice))
    make_client(alice).delete(follow_url(bob))
    assert Follow.objects.filter(follower=bob, followee=alice).exists()
    assert not Follow.objects.filter(follower=alice, followee=bob).exists()
    assert counts(alice) == (1, 0)
    assert counts(bob) == (0, 1)


def test_counters_follow_unfollow_refollow(make_client: MakeClient) -> None:
    alice, bob, carol = UserFactory.create(), UserFactory.create(), UserFactory.create()
    alice_client, carol_client = make_client(alice), make_client(carol)

    alice_client.post(follow_url(bob))
    carol_client.post(follow_url(bob))
    alice_client.post(follow_url(carol))
    assert counts(bob) == (2, 0)
    assert counts(alice) == (0, 2)
    assert counts(carol) == (1, 1)

    alice_client.delete(follow_url(bob))
    alice_client.delete(follow_url(bob))  # a second unfollow must not decrement again
    assert counts(bob) == (1, 0)
    assert counts(alice) == (0, 1)

    alice_client.post(follow_url(bob))
    assert counts(bob) == (2, 0)
    assert counts(alice) == (0, 2)


def test_profile_shows_counts_and_relationship(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    make_client(alice).post(follow_url(bob))
    body = make_client(alice).get(f"/api/users/{bob.username}/").json()
    assert body["followers_count"] == 1
    assert body["following_count"] == 0
    assert body["is_following"] is True
    assert body["follows_you"] is False
    body = make_client(bob).get(f"/api/users/{alice.username}/").json()
    assert body["following_count"] == 1
    assert body["is_following"] is False
    assert body["follows_you"] is True


def test_follow_makes_a_notification_and_unfollow_removes_it(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    client = make_client(alice)
    client.post(follow_url(bob))
    notification = Notification.objects.get(recipient=bob)
    assert notification.kind == "follow"
    assert notification.actor_id == alice.pk

    client.delete(follow_url(bob))
    assert not Notification.objects.filter(recipient=bob).exists()
    assert make_client(bob).get("/api/notifications/").json()["results"] == []


def test_refollow_makes_exactly_one_new_notification(make_client: MakeClient) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    client = make_client(alice)
    client.post(follow_url(bob))
    client.delete(follow_url(bob))
    client.post(follow_url(bob))
    assert Notification.objects.filter(recipient=bob, kind="follow").count() == 1


# --- Lists ---------------------------------------------------------------------------------


def test_followers_list_newest_first_with_user_summaries(
    make_client: MakeClient, api_client: APIClient
) -> None:
    bob = UserFactory.create()
    fans = [UserFactory.create() for _ in range(3)]
    for fan in fans:
        make_client(fan).post(follow_url(bob))
    response = api_client.get(f"/api/users/{bob.username}/followers/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [item["user"]["username"] for item in body["results"]] == [
        fan.username for fan in reversed(fans)
    ]
    first = body["results"][0]["user"]
    assert first == {
        "id": str(fans[-1].pk),
        "username": fans[-1].username,
        "display_name": fans[-1].display_name,
        "avatar": None,
    }
    assert "email" not in first
    assert "followed_at" in body["results"][0]


def test_following_list_newest_first(make_client: MakeClient) -> None:
    alice = UserFactory.create()
    idols = [UserFactory.create() for _ in range(3)]
    client = make_client(alice)
    for idol in idols:
        client.post(follow_url(idol))
    body = client.get(f"/api/users/{alice.username}/following/").json()
    assert [item["user"]["username"] for item in body["results"]] == [
        idol.username for idol in reversed(idols)
    ]
    assert body["results"][0]["user"]["id"] == str(idols[-1].pk)


def test_lists_do_not_mix_directions(make_client: MakeClient, api_client: APIClient) -> None:
    alice, bob, carol = UserFactory.create(), UserFactory.create(), UserFactory.create()
    make_client(alice).post(follow_url(bob))
    make_client(bob).post(follow_url(carol))
    followers = api_client.get(f"/api/users/{bob.username}/followers/").json()["results"]
    following = api_client.get(f"/api/users/{bob.username}/following/").json()["results"]
    assert [item["user"]["username"] for item in followers] == [alice.username]
    assert [item["user"]["username"] for item in following] == [carol.username]


def test_followers_list_is_paginated(api_client: APIClient) -> None:
    bob = UserFactory.create()
    follows = [FollowFactory.create(followee=bob) for _ in range(25)]
    expected = [follow.follower.username for follow in reversed(follows)]

    first = api_client.get(f"/api/users/{bob.username}/followers/").json()
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert first["next"]
    second = api_client.get(first["next"]).json()
    assert second["next"] is None
    seen = [item["user"]["username"] for item in first["results"] + second["results"]]
    assert seen == expected


def test_following_list_honours_limit(api_client: APIClient) -> None:
    alice = UserFactory.create()
    for _ in range(7):
        FollowFactory.create(follower=alice)
    usernames: list[str] = []
    url: str | None = f"/api/users/{alice.username}/following/?limit=3"
    pages = 0
    while url:
        body = api_client.get(url).json()
        assert len(body["results"]) <= 3
        usernames += [item["user"]["username"] for item in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert len(usernames) == len(set(usernames)) == 7


def test_lists_of_unknown_user_are_404(api_client: APIClient) -> None:
    assert api_client.get("/api/users/nobody_here/followers/").status_code == 404
    assert api_client.get("/api/users/nobody_here/following/").status_code == 404


def test_garbage_cursor_is_400(api_client: APIClient) -> None:
    bob = UserFactory.create()
    response = api_client.get(f"/api/users/{bob.username}/followers/?cursor=garbage")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
