"""Blocks and mutes through the API: the endpoints, what a block removes and refuses, what
disappears for whom (feed, lists, posts, comments, notifications, live events, direct
messages), the database constraints, and a block racing follows on a real database.

The rules, as docs/api.md ("Blocks and mutes") states them. When ada blocks bob:
- the follows between them go, both ways, and neither can follow the other until ada
  unblocks; bob cannot like or comment on ada's posts or write to her;
- bob sees ada's profile (with `blocks_you`) but none of her posts: they leave his lists and
  open as 404, as deleted posts do; her comments leave the threads he reads;
- ada stops seeing bob's posts and comments in lists (she may still open one by its id, but
  not like or comment on it);
- notifications between them, old ones included, are hidden from both.
When ada mutes bob, bob's posts, comments and notifications disappear for ada, who may keep
following him; nothing changes for bob.
"""

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.core.exceptions import NotPermitted
from plaza.core.redis import redis_client
from plaza.feed.timelines import timeline_store
from plaza.graph.models import Block, Follow, Mute
from plaza.graph.services import block_create, follow_create, mute_create
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Like, Post
from plaza.posts.services import comment_create, like_create, post_create
from tests.factories import TEST_PASSWORD, PostFactory, UserFactory, token_for
from tests.helpers import client_for, error_code, follow_url, ids, ok
from tests.races import ROUNDS, Call, run_together
from tests.sockets import socket
from tests.timelines import expected_feed, timeline_ids, walk_feed

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]
CountQueries = Callable[[Callable[[], object]], int]


def block_url(user: User) -> str:
    return f"/api/users/{user.username}/block/"


def mute_url(user: User) -> str:
    return f"/api/users/{user.username}/mute/"


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


@pytest.fixture
def ada() -> User:
    return UserFactory.create(username="ada")


@pytest.fixture
def bob() -> User:
    return UserFactory.create(username="bob")


@pytest.fixture
def cy() -> User:
    return UserFactory.create(username="cy")


# --- The endpoints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "url", "stamp"), [("block", block_url, "blocked_at"), ("mute", mute_url, "muted_at")]
)
def test_block_and_mute_are_idempotent(
    make_client: MakeClient,
    ada: User,
    bob: User,
    kind: str,
    url: Callable[[User], str],
    stamp: str,
) -> None:
    client = make_client(ada)
    first = ok(client.post(url(bob)), 201).json()
    assert set(first) == {"user", stamp}
    assert first["user"] == {
        "id": str(bob.pk),
        "username": "bob",
        "display_name": bob.display_name,
        "avatar": None,
    }
    again = ok(client.post(url(bob)), 200).json()
    assert again == first
    model = Block if kind == "block" else Mute
    assert model.objects.count() == 1
    ok(client.delete(url(bob)), 204)
    assert model.objects.count() == 0
    ok(client.delete(url(bob)), 204)  # also when there was nothing to undo
    # Usernames match regardless of case, as everywhere.
    ok(client.post(url(bob).replace("bob", "BOB")), 201)


@pytest.mark.parametrize(
    ("url", "code"), [(block_url, "cannot_block_self"), (mute_url, "cannot_mute_self")]
)
def test_blocking_or_muting_yourself_is_400(
    make_client: MakeClient, ada: User, url: Callable[[User], str], code: str
) -> None:
    assert error_code(make_client(ada).post(url(ada)), 400) == code
    assert not Block.objects.exists()
    assert not Mute.objects.exists()


@pytest.mark.parametrize("url", [block_url, mute_url])
def test_unknown_users_and_anonymous_callers_are_refused(
    make_client: MakeClient, api_client: APIClient, ada: User, bob: User, url: Callable[[User], str]
) -> None:
    client = make_client(ada)
    for method in ("post", "delete"):
        nobody = url(User(username="nobody"))
        assert error_code(getattr(client, method)(nobody), 404) == "not_found"
        assert error_code(getattr(api_client, method)(url(bob)), 401) == "not_authenticated"
    bob.is_active = False
    bob.save()
    assert error_code(client.post(url(bob)), 404) == "not_found"


def test_unverified_accounts_may_block_and_mute(
    make_client: MakeClient, ada: User, bob: User, settings: Settings
) -> None:
    """Blocking protects the one who blocks: REQUIRE_VERIFIED_EMAIL does not stand in the
    way, as it does for following."""
    settings.REQUIRE_VERIFIED_EMAIL = True
    client = make_client(ada)
    assert error_code(client.post(follow_url(bob)), 403) == "email_unverified"
    ok(client.post(block_url(bob)), 201)
    ok(client.post(mute_url(bob)), 201)


def graph_counters(*users: User) -> list[tuple[int, int, int]]:
    """(muting, blocking, blocked by) of each user, fresh from the database."""
    for user in users:
        user.refresh_from_db()
    return [(u.muting_count, u.blocking_count, u.blocked_by_count) for u in users]


def test_the_counters_that_skip_filtering_follow_the_rows(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    """`muting_count`, `blocking_count` and `blocked_by_count` decide whether a viewer's
    lists are filtered at all: they must be exact, and repair_counters must know them."""
    client = make_client(ada)
    for url, other in ((mute_url, bob), (mute_url, cy), (mute_url, bob), (block_url, bob)):
        ok(client.post(url(other)))
    ok(make_client(cy).post(block_url(ada)))
    ok(make_client(cy).post(block_url(ada)))
    assert graph_counters(ada, bob, cy) == [(2, 1, 1), (0, 0, 1), (0, 1, 0)]
    for _ in range(2):
        ok(client.delete(mute_url(bob)), 204)
        ok(client.delete(block_url(bob)), 204)
    assert graph_counters(ada, bob, cy) == [(1, 0, 1), (0, 0, 0), (0, 1, 0)]
    call_command("repair_counters", "--check")

    # Drifted to zero, they would let cy's posts through to ada: repair_counters finds it.
    User.objects.filter(pk=ada.pk).update(muting_count=0, blocked_by_count=0)
    with pytest.raises(CommandError):
        call_command("repair_counters", "--check", stdout=io.StringIO())
    call_command("repair_counters", stdout=io.StringIO())
    assert graph_counters(ada) == [(1, 0, 1)]


def test_the_database_refuses_self_blocks_and_duplicates(ada: User, bob: User) -> None:
    for model, fields in ((Block, ("blocker", "blocked")), (Mute, ("muter", "muted"))):
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(**{fields[0]: ada, fields[1]: ada})
        model.objects.create(**{fields[0]: ada, fields[1]: bob})
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(**{fields[0]: ada, fields[1]: bob})


@pytest.mark.parametrize(
    ("url", "listing", "stamp"),
    [(block_url, "/api/me/blocks/", "blocked_at"), (mute_url, "/api/me/mutes/", "muted_at")],
)
def test_the_lists_are_yours_newest_first_and_paginated(
    make_client: MakeClient,
    api_client: APIClient,
    ada: User,
    bob: User,
    url: Callable[[User], str],
    listing: str,
    stamp: str,
) -> None:
    others = UserFactory.create_batch(3)
    client = make_client(ada)
    for other in others:
        ok(client.post(url(other)), 201)
    ok(make_client(bob).post(url(ada)), 201)  # bob's, not ada's

    page = ok(client.get(f"{listing}?limit=2"), 200).json()
    assert [item["user"]["username"] for item in page["results"]] == [
        others[2].username,
        others[1].username,
    ]
    assert set(page["results"][0]) == {"user", stamp}
    rest = ok(client.get(page["next"]), 200).json()
    assert [item["user"]["username"] for item in rest["results"]] == [others[0].username]
    assert rest["next"] is None
    assert [
        item["user"]["username"] for item in ok(make_client(bob).get(listing)).json()["results"]
    ] == ["ada"]
    assert error_code(api_client.get(listing), 401) == "not_authenticated"


# --- A block removes follows and refuses new ones ----------------------------------------


def test_a_block_removes_follows_both_ways_with_exact_counters(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    follow_create(follower=ada, followee=bob)
    follow_create(follower=bob, followee=ada)
    follow_create(follower=cy, followee=ada)  # untouched
    follow_create(follower=bob, followee=cy)  # untouched
    assert Notification.objects.filter(recipient__in=[ada, bob], kind="follow").count() == 3

    ok(make_client(ada).post(block_url(bob)), 201)

    assert set(Follow.objects.values_list("follower__username", "followee__username")) == {
        ("cy", "ada"),
        ("bob", "cy"),
    }
    assert counts(ada) == (1, 0)
    assert counts(bob) == (0, 1)
    assert counts(cy) == (1, 1)
    # The removed follows' notifications went with them; cy's stays.
    assert list(
        Notification.objects.filter(kind="follow")
        .values_list("actor__username", flat=True)
        .order_by("actor__username")
    ) == ["bob", "cy"]
    assert not Notification.objects.filter(recipient__in=[ada, bob], actor__in=[ada, bob]).exists()
    call_command("repair_counters", "--check")  # raises if any counter is wrong


def test_blocking_again_and_unblocking_do_not_touch_follows(
    make_client: MakeClient, ada: User, bob: User
) -> None:
    client = make_client(ada)
    follow_create(follower=bob, followee=ada)
    ok(client.post(block_url(bob)), 201)
    ok(client.post(block_url(bob)), 200)
    ok(client.delete(block_url(bob)), 204)
    assert not Follow.objects.exists()  # unblocking restores nothing
    assert counts(ada) == (0, 0)
    assert counts(bob) == (0, 0)
    # Once unblocked, either may follow again.
    ok(make_client(bob).post(follow_url(ada)), 201)
    ok(client.post(follow_url(bob)), 201)
    assert counts(ada) == (1, 1)


def test_neither_side_can_follow_while_the_block_stands(
    make_client: MakeClient, ada: User, bob: User
) -> None:
    ok(make_client(ada).post(block_url(bob)), 201)

    refused = make_client(bob).post(follow_url(ada))
    assert error_code(refused, 403) == "blocked"
    assert refused.json()["message"] == "This account has blocked you."
    assert error_code(make_client(ada).post(follow_url(bob)), 403) == "blocking"
    assert not Follow.objects.exists()
    assert counts(ada) == (0, 0)
    assert counts(bob) == (0, 0)
    # Unfollowing is still a quiet 204.
    ok(make_client(bob).delete(follow_url(ada)), 204)


# --- What the blocked account sees of the blocker ------------------------------------------


@pytest.fixture
def blocked_world(make_client: MakeClient, ada: User, bob: User, cy: User) -> dict[str, Any]:
    """ada blocks bob. Before the block bob liked and commented on ada's post, and both
    commented on cy's post."""
    ada_post = post_create(author=ada, title="ada's", content="c")
    bob_post = post_create(author=bob, title="bob's", content="c")
    cy_post = post_create(author=cy, title="cy's", content="c")
    like_create(user=bob, post=ada_post)
    bob_on_ada = comment_create(author=bob, post=ada_post, content="bob on ada")
    ada_on_cy = comment_create(author=ada, post=cy_post, content="ada on cy")
    bob_on_cy = comment_create(author=bob, post=cy_post, content="bob on cy")
    cy_on_ada = comment_create(author=cy, post=ada_post, content="cy on ada")
    ok(make_client(ada).post(block_url(bob)), 201)
    return {
        "ada_post": ada_post,
        "bob_post": bob_post,
        "cy_post": cy_post,
        "bob_on_ada": bob_on_ada,
        "ada_on_cy": ada_on_cy,
        "bob_on_cy": bob_on_cy,
        "cy_on_ada": cy_on_ada,
    }


def test_the_blocked_sees_the_profile_but_none_of_the_posts(
    make_client: MakeClient, ada: User, bob: User, blocked_world: dict[str, Any]
) -> None:
    client = make_client(bob)
    ada_post: Post = blocked_world["ada_post"]
    cy_post: Post = blocked_world["cy_post"]

    profile = ok(client.get("/api/users/ada/"), 200).json()
    assert (profile["blocks_you"], profile["is_blocking"], profile["is_following"]) == (
        True,
        False,
        False,
    )
    assert profile["posts_count"] == 1  # the profile is public; the posts are not for bob

    listed = ids(client.get("/api/posts/"))
    assert str(ada_post.pk) not in listed
    assert str(cy_post.pk) in listed
    assert ids(client.get("/api/posts/?author=ada")) == []
    assert ids(client.get("/api/posts/?search=ada")) == []
    assert str(ada_post.pk) not in ids(client.get("/api/feed/"))
    for path in ("", "comments/", "likes/"):
        assert error_code(client.get(f"/api/posts/{ada_post.pk}/{path}"), 404) == "not_found"
    comment_on_ada = blocked_world["cy_on_ada"]
    assert error_code(client.get(f"/api/comments/{comment_on_ada.pk}/"), 404) == "not_found"
    ada_on_cy: Comment = blocked_world["ada_on_cy"]
    assert error_code(client.get(f"/api/comments/{ada_on_cy.pk}/"), 404) == "not_found"
    # ada's comment leaves the threads bob reads; the others stay.
    thread = ok(client.get(f"/api/posts/{cy_post.pk}/comments/"), 200).json()["results"]
    assert [item["content"] for item in thread] == ["bob on cy"]
    # Anonymous readers still see everything: posts are public (docs/api.md says so).
    assert ok(APIClient().get(f"/api/posts/{ada_post.pk}/"), 200)


def test_the_blocked_cannot_like_or_comment_on_the_blockers_posts(
    make_client: MakeClient, ada: User, bob: User, blocked_world: dict[str, Any]
) -> None:
    client = make_client(bob)
    ada_post: Post = blocked_world["ada_post"]
    before = (Like.objects.count(), Comment.objects.count(), Notification.objects.count())

    assert error_code(client.post(f"/api/posts/{ada_post.pk}/like/"), 404) == "not_found"
    body = {"content": "still here"}
    response = client.post(f"/api/posts/{ada_post.pk}/comments/", body, format="json")
    assert error_code(response, 404) == "not_found"
    bob_on_ada: Comment = blocked_world["bob_on_ada"]
    edit = client.patch(f"/api/comments/{bob_on_ada.pk}/", body, format="json")
    assert error_code(edit, 404) == "not_found"

    assert (Like.objects.count(), Comment.objects.count(), Notification.objects.count()) == before
    # Taking back what one did before the block stays possible.
    ok(client.delete(f"/api/posts/{ada_post.pk}/like/"), 204)
    ok(client.delete(f"/api/comments/{bob_on_ada.pk}/"), 204)
    ada_post.refresh_from_db()
    assert (ada_post.likes_count, ada_post.comments_count) == (0, 1)


def test_the_services_refuse_likes_and_comments_across_a_block_whoever_calls_them(
    ada: User, bob: User, blocked_world: dict[str, Any]
) -> None:
    """The views answer 404 to the blocked before asking; the services check again, under
    the post's lock, so a block committed since the view read the post still counts."""
    for actor, post, code in (
        (bob, blocked_world["ada_post"], "blocked"),
        (ada, blocked_world["bob_post"], "blocking"),
    ):
        with pytest.raises(NotPermitted) as refused:
            like_create(user=actor, post=post)
        assert refused.value.code == code
        with pytest.raises(NotPermitted) as refused:
            comment_create(author=actor, post=post, content="x")
        assert refused.value.code == code


def test_the_blocker_stops_seeing_the_blocked_in_lists_but_may_open_a_post(
    make_client: MakeClient, ada: User, bob: User, blocked_world: dict[str, Any]
) -> None:
    client = make_client(ada)
    bob_post: Post = blocked_world["bob_post"]
    cy_post: Post = blocked_world["cy_post"]

    profile = ok(client.get("/api/users/bob/"), 200).json()
    assert (profile["is_blocking"], profile["blocks_you"]) == (True, False)
    assert str(bob_post.pk) not in ids(client.get("/api/posts/"))
    assert ids(client.get("/api/posts/?author=bob")) == []
    assert str(bob_post.pk) not in ids(client.get("/api/feed/"))
    thread = ok(client.get(f"/api/posts/{cy_post.pk}/comments/"), 200).json()["results"]
    assert [item["content"] for item in thread] == ["ada on cy"]
    # A link to one of bob's posts still opens (as on Mastodon): the block protects ada.
    ok(client.get(f"/api/posts/{bob_post.pk}/"), 200)
    # But she cannot act on it: likes and comments are public, and bob could not answer.
    assert error_code(client.post(f"/api/posts/{bob_post.pk}/like/"), 403) == "blocking"
    body = {"content": "about you"}
    response = client.post(f"/api/posts/{bob_post.pk}/comments/", body, format="json")
    assert error_code(response, 403) == "blocking"
    bob_post.refresh_from_db()
    assert (bob_post.likes_count, bob_post.comments_count) == (0, 0)
    # Third parties see everything as before.
    cy_thread = ok(make_client(UserFactory.create()).get(f"/api/posts/{cy_post.pk}/comments/"))
    assert len(cy_thread.json()["results"]) == 2


def test_notifications_between_the_two_are_hidden_and_the_count_agrees(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    ada_post = post_create(author=ada, title="ada's", content="c")
    bob_post = post_create(author=bob, title="bob's", content="c")
    like_create(user=bob, post=ada_post)
    comment_create(author=cy, post=ada_post, content="cy")
    like_create(user=ada, post=bob_post)
    ada_client, bob_client = make_client(ada), make_client(bob)
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 2}

    ok(ada_client.post(block_url(bob)), 201)

    ada_list = ok(ada_client.get("/api/notifications/")).json()["results"]
    assert [item["actor"]["username"] for item in ada_list] == ["cy"]
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 1}
    assert ok(ada_client.get("/api/notifications/?unread=true")).json()["results"] == ada_list
    # The blocker's own activity disappears for the blocked too.
    assert ok(bob_client.get("/api/notifications/")).json()["results"] == []
    assert ok(bob_client.get("/api/notifications/unread-count/")).json() == {"count": 0}
    hidden = Notification.objects.get(recipient=ada, actor=bob)
    assert error_code(ada_client.post(f"/api/notifications/{hidden.pk}/read/"), 404) == "not_found"
    assert ok(ada_client.post("/api/notifications/read-all/")).json() == {"updated": 1}
    hidden.refresh_from_db()
    assert hidden.read is False  # hidden, not touched

    ok(ada_client.delete(block_url(bob)), 204)
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 1}
    assert len(ok(ada_client.get("/api/notifications/")).json()["results"]) == 2


# --- Direct messages -------------------------------------------------------------------------


def start(client: APIClient, *names: str) -> Any:
    return client.post("/api/conversations/", {"participants": list(names)}, format="json")


def send(client: APIClient, conversation_id: str, body: str = "hello") -> Any:
    url = f"/api/conversations/{conversation_id}/messages/"
    return client.post(url, {"body": body}, format="json")


def test_the_blocked_cannot_write_to_the_blocker(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    ada_client, bob_client, cy_client = make_client(ada), make_client(bob), make_client(cy)
    one_to_one = ok(start(bob_client, "ada"), 201).json()["id"]
    group = ok(start(cy_client, "ada", "bob"), 201).json()["id"]
    ok(send(bob_client, one_to_one), 201)

    ok(ada_client.post(block_url(bob)), 201)

    assert error_code(send(bob_client, one_to_one), 403) == "blocked"
    assert error_code(send(bob_client, group), 403) == "blocked"
    assert error_code(start(bob_client, "ada"), 403) == "blocked"  # the existing one too
    assert error_code(start(bob_client, "cy", "ADA"), 403) == "blocked"
    # The blocker is not silenced (bob can block her back), nor is anyone else.
    ok(send(ada_client, one_to_one), 201)
    ok(send(ada_client, group), 201)
    ok(send(cy_client, group), 201)
    ok(start(bob_client, "cy"), 201)
    # bob can still read what he has.
    assert ok(bob_client.get(f"/api/conversations/{one_to_one}/messages/")).json()["results"]
    # Unknown names are reported before blocks.
    assert error_code(start(bob_client, "ada", "nobody"), 400) == "invalid"

    ok(ada_client.delete(block_url(bob)), 204)
    ok(send(bob_client, one_to_one), 201)


def test_a_refused_message_changes_nothing(make_client: MakeClient, ada: User, bob: User) -> None:
    conversation = ok(start(make_client(bob), "ada"), 201).json()["id"]
    block_create(blocker=ada, blocked=bob)
    error_code(send(make_client(bob), conversation), 403)
    summary = ok(make_client(ada).get(f"/api/conversations/{conversation}/")).json()
    assert (summary["last_message"], summary["unread_count"]) == (None, 0)


# --- Mutes ----------------------------------------------------------------------------------


def test_a_mute_hides_posts_comments_and_notifications_but_keeps_the_follow(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    ada_client = make_client(ada)
    follow_create(follower=ada, followee=bob)
    follow_create(follower=ada, followee=cy)
    bob_post = post_create(author=bob, title="bob's", content="c")
    cy_post = post_create(author=cy, title="cy's", content="c")
    ada_post = post_create(author=ada, title="ada's", content="c")
    comment_create(author=bob, post=cy_post, content="bob on cy")
    comment_create(author=bob, post=ada_post, content="bob on ada")
    like_create(user=bob, post=ada_post)
    like_create(user=cy, post=ada_post)
    assert len(ids(ada_client.get("/api/feed/"))) == 3

    ok(ada_client.post(mute_url(bob)), 201)

    assert ids(ada_client.get("/api/feed/")) == [str(ada_post.pk), str(cy_post.pk)]
    assert str(bob_post.pk) not in ids(ada_client.get("/api/posts/"))
    profile = ok(ada_client.get("/api/users/bob/")).json()
    assert (profile["is_following"], profile["is_muting"], profile["is_blocking"]) == (
        True,
        True,
        False,
    )
    assert ok(ada_client.get(f"/api/posts/{cy_post.pk}/comments/")).json()["results"] == []
    assert [
        n["actor"]["username"] for n in ada_client.get("/api/notifications/").json()["results"]
    ] == ["cy"]
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 1}
    # Opening one of bob's posts still works: muting hides, it does not forbid.
    ok(ada_client.get(f"/api/posts/{bob_post.pk}/"), 200)

    # Nothing changes for bob: he is not told, and may go on following and liking.
    bob_client = make_client(bob)
    seen_by_bob = ok(bob_client.get("/api/users/ada/")).json()
    assert (seen_by_bob["is_muting"], seen_by_bob["blocks_you"], seen_by_bob["follows_you"]) == (
        False,
        False,
        True,
    )
    ok(bob_client.post(follow_url(ada)), 201)
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 1}

    ok(ada_client.delete(mute_url(bob)), 204)
    assert ids(ada_client.get("/api/feed/")) == [
        str(ada_post.pk),
        str(cy_post.pk),
        str(bob_post.pk),
    ]
    assert ok(ada_client.get("/api/notifications/unread-count/")).json() == {"count": 4}


def test_a_mute_and_a_block_can_stand_together(
    make_client: MakeClient, ada: User, bob: User
) -> None:
    client = make_client(ada)
    ok(client.post(mute_url(bob)), 201)
    ok(client.post(block_url(bob)), 201)
    profile = ok(client.get("/api/users/bob/")).json()
    assert (profile["is_muting"], profile["is_blocking"]) == (True, True)
    ok(client.delete(block_url(bob)), 204)
    assert Mute.objects.filter(muter=ada, muted=bob).exists()


def test_deleting_an_account_deletes_its_blocks_and_mutes(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    block_create(blocker=ada, blocked=bob)
    block_create(blocker=bob, blocked=cy)
    mute_create(muter=bob, muted=ada)
    mute_create(muter=ada, muted=bob)
    mute_create(muter=cy, muted=bob)
    response = make_client(bob).delete("/api/me/", {"password": TEST_PASSWORD}, format="json")
    assert response.status_code == 204, response.content
    assert not Block.objects.exists()
    assert not Mute.objects.exists()
    # Those who muted or blocked bob mute and block nobody now: their counters say so at once.
    assert graph_counters(ada, cy) == [(0, 0, 0), (0, 0, 0)]
    call_command("repair_counters", "--check")


def test_the_export_lists_blocks_and_mutes(
    make_client: MakeClient, ada: User, bob: User, cy: User
) -> None:
    block_create(blocker=ada, blocked=bob)
    mute_create(muter=ada, muted=cy)
    block_create(blocker=cy, blocked=ada)  # cy's, not ada's
    export = ok(make_client(ada).get("/api/me/export/")).json()
    assert [item["username"] for item in export["blocking"]] == ["bob"]
    assert set(export["blocking"][0]) == {"username", "blocked_at"}
    assert [item["username"] for item in export["muting"]] == ["cy"]


# --- Query counts: filtering costs no query ----------------------------------------------


def shun(viewer: User) -> None:
    """Give the viewer mutes and blocks both ways, each with posts and notifications."""
    for _ in range(3):
        muted, blocked, blocker = UserFactory.create_batch(3)
        follow_create(follower=viewer, followee=muted)
        for author in (muted, blocked, blocker):
            PostFactory.create(author=author)
            like_create(user=author, post=PostFactory.create(author=viewer))
        mute_create(muter=viewer, muted=muted)
        block_create(blocker=viewer, blocked=blocked)
        block_create(blocker=blocker, blocked=viewer)


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # token, the page's ids, those posts with authors, the viewer's likes among them,
        # their attachments
        ("/api/feed/", 5),
        # token, the page with actors, likes with their posts
        ("/api/notifications/", 3),
        ("/api/notifications/unread-count/", 2),  # token, count
        ("/api/posts/", 4),  # token, page, the viewer's likes, attachments
        ("/api/me/blocks/", 2),  # token, page
        ("/api/me/mutes/", 2),
        ("/api/posts/{post}/", 4),  # token, post with author, the viewer's like, attachments
        ("/api/posts/{post}/comments/", 3),  # token, post, page
        ("/api/comments/{comment}/", 2),  # token, comment with author
    ],
)
def test_mutes_and_blocks_cost_no_query(
    make_client: MakeClient, count_queries: CountQueries, url: str, queries: int
) -> None:
    ContentType.objects.get_for_models(Follow, Like, Comment)  # warm the cache
    viewer = UserFactory.create()
    friend = UserFactory.create()
    follow_create(follower=viewer, followee=friend)
    PostFactory.create(author=friend)
    like_create(user=friend, post=PostFactory.create(author=viewer))
    post = PostFactory.create(author=friend)
    comment = comment_create(author=friend, post=post, content="hi")
    url = url.format(post=post.pk, comment=comment.pk)
    client = make_client(viewer)
    ok(client.get(url))
    plain = count_queries(lambda: ok(client.get(url)))

    shun(viewer)

    assert count_queries(lambda: ok(client.get(url))) == plain == queries


def test_profile_relationship_is_still_one_query(
    make_client: MakeClient, count_queries: CountQueries, ada: User, bob: User
) -> None:
    block_create(blocker=bob, blocked=ada)
    mute_create(muter=ada, muted=bob)
    client = make_client(ada)
    assert ok(client.get("/api/users/bob/")).json()["blocks_you"] is True
    # token, user, relationship (follows, blocks and the mute at once)
    assert count_queries(lambda: client.get("/api/users/bob/")) == 3


# --- Live events ----------------------------------------------------------------------------

TIMEOUT = 3


def socket_for(token: str) -> WebsocketCommunicator:
    return socket(token=token)


async def connected(communicator: WebsocketCommunicator) -> WebsocketCommunicator:
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    assert accepted
    await communicator.receive_from(timeout=TIMEOUT)  # the session's hello
    return communicator


def call(client: APIClient, method: str, path: str, data: Any = None) -> Any:
    response = getattr(client, method)(path, data, format="json")
    assert response.status_code < 300, response.content
    return response.json() if response.content else None


@pytest.mark.django_db(transaction=True)
async def test_muted_authors_posts_and_hidden_notifications_are_not_pushed() -> None:
    ada, bob, cy = await sync_to_async(UserFactory.create_batch)(3)

    @sync_to_async
    def arrange() -> tuple[APIClient, APIClient, APIClient, Post, str]:
        follow_create(follower=ada, followee=bob)
        follow_create(follower=ada, followee=cy)
        mute_create(muter=ada, muted=bob)
        ada_post = PostFactory.create(author=ada)
        clients = (APIClient(), APIClient(), APIClient())
        for client, user in zip(clients, (ada, bob, cy), strict=True):
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return (*clients, ada_post, token_for(ada))

    _ada_client, bob_client, cy_client, ada_post, token = await arrange()
    ada_socket = await connected(socket_for(token))

    await sync_to_async(call)(bob_client, "post", "/api/posts/", {"title": "b", "content": "c"})
    await sync_to_async(call)(bob_client, "post", f"/api/posts/{ada_post.pk}/like/")
    assert await ada_socket.receive_nothing(timeout=0.3)

    # The same from someone not muted does arrive: the socket works.
    created = await sync_to_async(call)(
        cy_client, "post", "/api/posts/", {"title": "c", "content": "c"}
    )
    event = json.loads(await ada_socket.receive_from(timeout=TIMEOUT))
    assert (event["type"], event["id"]) == ("feed.post", created["id"])
    await ada_socket.disconnect()


# --- Races on a real database (SQLite here, PostgreSQL with make test-postgres) ------------


def assert_pair_consistent(alice: User, bob: User) -> None:
    """No follow survives between a blocked pair, and every counter equals its rows."""
    blocked = Block.objects.filter(blocker__in=[alice, bob], blocked__in=[alice, bob]).exists()
    follows = Follow.objects.filter(follower__in=[alice, bob], followee__in=[alice, bob])
    if blocked:
        assert not follows.exists()
    follow_type = ContentType.objects.get_for_model(Follow)
    notified = Notification.objects.filter(target_type=follow_type)
    assert sorted(notified.values_list("target_id", flat=True)) == sorted(
        Follow.objects.values_list("pk", flat=True)
    )
    call_command("repair_counters", "--check")


@pytest.mark.django_db(transaction=True)
def test_blocks_racing_follows_leave_no_follow_between_the_pair() -> None:
    """alice blocks bob while both try to follow each other (and bob, already following,
    follows again): whatever order they run in, the block wins, counters stay exact,
    nothing answers 5xx and nothing deadlocks."""
    for _round in range(ROUNDS):
        alice, bob = UserFactory.create(), UserFactory.create()
        follow_create(follower=bob, followee=alice)
        alice_clients = [client_for(alice) for _ in range(4)]
        bob_clients = [client_for(bob) for _ in range(4)]
        calls = [
            Call(alice_clients[0], "post", block_url(bob)),
            Call(alice_clients[1], "post", block_url(bob)),
            Call(alice_clients[2], "post", follow_url(bob)),
            Call(alice_clients[3], "post", follow_url(bob)),
            Call(bob_clients[0], "post", follow_url(alice)),
            Call(bob_clients[1], "post", follow_url(alice)),
            Call(bob_clients[2], "delete", follow_url(alice)),
            Call(bob_clients[3], "post", follow_url(alice)),
        ]

        statuses = run_together(calls)

        assert all(status < 500 for status in statuses), statuses
        assert sorted(statuses[:2]) == [200, 201]  # one block, made once
        assert set(statuses[2:]) <= {200, 201, 204, 403}, statuses
        assert Block.objects.filter(blocker=alice, blocked=bob).count() == 1
        assert_pair_consistent(alice, bob)


@pytest.mark.django_db(transaction=True)
def test_blocking_and_unblocking_racing_follows_keep_the_rule() -> None:
    """Blocks and unblocks both ways, follows and unfollows both ways, all at once, round
    after round: after each round, no follow stands beside a block and counters are exact."""
    alice, bob = UserFactory.create(), UserFactory.create()
    senders = [(client_for(alice), bob), (client_for(bob), alice)]
    paths = [block_url, follow_url]
    calls = [
        Call(client, method, path(other))
        for client, other in senders
        for path in paths
        for method in ("post", "delete", "post")
    ]
    for _round in range(ROUNDS):
        statuses = run_together(calls)
        assert set(statuses) <= {200, 201, 204, 403}, statuses
        assert_pair_consistent(alice, bob)


# --- The distributed mode: Redis timelines (make test-distributed) --------------------------


def redis_of_timelines() -> redis.Redis:
    client = redis_client()
    assert client is not None
    return client


def visible_feed(viewer: User, *hidden: User) -> list[int]:
    """The feed by definition, from the database: the followed accounts' posts and the
    viewer's own, newest first, less those of `hidden`."""
    hidden_ids = {user.pk for user in hidden}
    return [
        post_id
        for post_id, author_id in Post.objects.filter(pk__in=expected_feed(viewer))
        .order_by("-id")
        .values_list("id", "author_id")
        if author_id not in hidden_ids
    ]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("timelines")
def test_a_mute_rebuilds_the_timeline_without_the_muted_and_fan_out_skips_the_muter(
    make_client: MakeClient, settings: Settings
) -> None:
    settings.FEED_TIMELINE_SIZE = 5  # pages run past the window into SQL too
    viewer, bob, cy = UserFactory.create_batch(3)
    follow_create(follower=viewer, followee=bob)
    follow_create(follower=viewer, followee=cy)
    for number in range(6):
        post_create(author=(bob, cy)[number % 2], title=f"a{number}", content="c")
    client = make_client(viewer)
    assert walk_feed(client, limit=3) == visible_feed(viewer)
    assert timeline_ids(redis_of_timelines(), viewer)

    ok(client.post(mute_url(bob)), 201)

    assert timeline_ids(redis_of_timelines(), viewer) == []  # dropped: rebuilt on the next read
    assert walk_feed(client, limit=3) == visible_feed(viewer, bob)
    bob_posts = set(Post.objects.filter(author=bob).values_list("id", flat=True))
    assert not bob_posts & set(timeline_ids(redis_of_timelines(), viewer))
    fresh = post_create(author=bob, title="fresh", content="c")  # fanned out to others only
    assert fresh.pk not in timeline_ids(redis_of_timelines(), viewer)
    assert walk_feed(client, limit=3) == visible_feed(viewer, bob)

    ok(client.delete(mute_url(bob)), 204)

    assert walk_feed(client, limit=3) == visible_feed(viewer)
    assert fresh.pk in timeline_ids(redis_of_timelines(), viewer)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("timelines")
def test_a_muted_large_account_is_not_merged_in(
    make_client: MakeClient, settings: Settings
) -> None:
    settings.FEED_FANOUT_MAX_FOLLOWERS = 2
    viewer, star, fan, small = UserFactory.create_batch(4)
    for follower, followee in ((viewer, star), (fan, star), (viewer, small)):
        follow_create(follower=follower, followee=followee)
    for number in range(4):
        post_create(author=(star, small)[number % 2], title=f"p{number}", content="c")
    client = make_client(viewer)
    assert walk_feed(client, limit=2) == visible_feed(viewer)

    ok(client.post(mute_url(star)), 201)

    assert walk_feed(client, limit=2) == visible_feed(viewer, star)
    post_create(author=star, title="after", content="c")
    assert walk_feed(client, limit=2) == visible_feed(viewer, star)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("timelines")
def test_a_block_empties_both_timelines_of_each_other(make_client: MakeClient) -> None:
    ada, bob = UserFactory.create_batch(2)
    follow_create(follower=ada, followee=bob)
    follow_create(follower=bob, followee=ada)
    ada_post = post_create(author=ada, title="ada", content="c")
    bob_post = post_create(author=bob, title="bob", content="c")
    ada_client, bob_client = make_client(ada), make_client(bob)
    assert walk_feed(ada_client, limit=20) == [bob_post.pk, ada_post.pk]
    assert walk_feed(bob_client, limit=20) == [bob_post.pk, ada_post.pk]

    ok(bob_client.post(block_url(ada)), 201)

    assert walk_feed(ada_client, limit=20) == [ada_post.pk]
    assert walk_feed(bob_client, limit=20) == [bob_post.pk]
    post_create(author=bob, title="later", content="c")
    assert walk_feed(ada_client, limit=20) == [ada_post.pk]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("timelines")
def test_a_post_a_racing_fan_out_left_in_the_timeline_is_filtered_at_read_time(
    make_client: MakeClient,
) -> None:
    """A fan-out already under way when the viewer muted (or blocked) the author can push
    the post into the freshly rebuilt timeline: the page leaves it out all the same."""
    viewer, bob, cy = UserFactory.create_batch(3)
    follow_create(follower=viewer, followee=bob)
    follow_create(follower=viewer, followee=cy)
    cy_post = post_create(author=cy, title="cy", content="c")
    client = make_client(viewer)
    ok(client.post(mute_url(bob)), 201)
    assert walk_feed(client, limit=20) == [cy_post.pk]  # rebuilt without bob
    late = Post.objects.create(author=bob, title="late", content="c")
    store = timeline_store()
    assert store is not None
    store.push([viewer.pk], late.pk)  # what the racing fan-out does
    assert late.pk in timeline_ids(redis_of_timelines(), viewer)

    assert ids(client.get("/api/feed/")) == [str(cy_post.pk)]
