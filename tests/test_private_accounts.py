"""Private accounts and follow requests through the API: asking, answering, withdrawing,
what a private account's posts and lists show to whom on every read path, going public and
private, removing a follower, and answers racing on a real database.

The rules, as docs/api.md ("Private accounts and follow requests") states them. When ada is
private:
- following her answers 202 and makes a request, which she accepts (the requester then
  follows her) or rejects; the requester may withdraw it;
- her posts, with their comments and likes, exist only for her followers and herself: out
  of every list, 404 by id, for everyone else, anonymous readers included;
- her lists of followers and following are 403 `private_account` to everyone else;
- her profile stays public.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.accounts.services import profile_update
from plaza.graph import services as graph_services
from plaza.graph.models import Block, Follow, FollowRequest
from plaza.graph.services import (
    block_create,
    follow_create,
    follow_request_accept,
    follow_requests_accept_all,
)
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Comment, Like, Post
from plaza.posts.services import comment_create, like_create, post_create
from tests.factories import TEST_PASSWORD, FollowRequestFactory, PostFactory, UserFactory
from tests.helpers import client_for, error_code, follow_url, ids, ok
from tests.races import ROUNDS, Call, run_together
from tests.routes import LIST_QUERIES

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]
CountQueries = Callable[[Callable[[], object]], int]


def accept_url(request_id: int | str) -> str:
    return f"/api/follow-requests/{request_id}/accept/"


def reject_url(request_id: int | str) -> str:
    return f"/api/follow-requests/{request_id}/reject/"


def go_private(client: APIClient) -> None:
    body = ok(client.patch("/api/me/", {"is_private": True}, format="json"), 200).json()
    assert body["is_private"] is True


@pytest.fixture
def ada() -> User:
    return UserFactory.create(username="ada")


@pytest.fixture
def bob() -> User:
    return UserFactory.create(username="bob")


# --- Asking, answering, withdrawing ----------------------------------------------------------


def test_following_a_private_account_asks_and_accepting_makes_the_follow(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    ada_client, bob_client = make_client(ada), make_client(bob)
    go_private(ada_client)

    asked = ok(bob_client.post(follow_url(ada)), 202).json()
    assert asked["user"]["username"] == "ada"
    assert set(asked) == {"id", "user", "requested_at"}
    # Asking again changes nothing and answers the same request.
    assert ok(bob_client.post(follow_url(ada)), 202).json()["id"] == asked["id"]
    assert not Follow.objects.exists()
    assert FollowRequest.objects.count() == 1
    profile = ok(bob_client.get("/api/users/ada/"), 200).json()
    assert (profile["is_private"], profile["follow_requested"], profile["is_following"]) == (
        True,
        True,
        False,
    )
    assert profile["followers_count"] == 0

    # ada sees the request in her list and in her notifications, which link to it.
    waiting = ok(ada_client.get("/api/follow-requests/"), 200).json()["results"]
    assert [(item["id"], item["user"]["username"]) for item in waiting] == [(asked["id"], "bob")]
    notes = ok(ada_client.get("/api/notifications/"), 200).json()["results"]
    assert [(n["type"], n["target"]["type"], n["target"]["id"]) for n in notes] == [
        ("follow_request", "follow_request", asked["id"])
    ]

    accepted = ok(ada_client.post(accept_url(asked["id"])), 200).json()
    assert accepted["user"]["username"] == "bob"
    assert Follow.objects.filter(follower=bob, followee=ada).count() == 1
    assert not FollowRequest.objects.exists()
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.followers_count, bob.following_count) == (1, 1)
    # The request's notification gave way to the follow's.
    notes = ok(ada_client.get("/api/notifications/"), 200).json()["results"]
    assert [n["type"] for n in notes] == ["follow"]
    profile = ok(bob_client.get("/api/users/ada/"), 200).json()
    assert (profile["follow_requested"], profile["is_following"]) == (False, True)
    # Following now: 200, no new request.
    assert ok(bob_client.post(follow_url(ada)), 200).json()["following"]["username"] == "ada"
    # The request is answered: answering it again is a 404.
    assert error_code(ada_client.post(accept_url(asked["id"])), 404) == "not_found"
    assert error_code(ada_client.post(reject_url(asked["id"])), 404) == "not_found"
    call_command("repair_counters", "--check")


def test_rejecting_deletes_the_request_silently_and_one_may_ask_again(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    ada_client, bob_client = make_client(ada), make_client(bob)
    go_private(ada_client)
    first = ok(bob_client.post(follow_url(ada)), 202).json()["id"]

    ok(ada_client.post(reject_url(first)), 204)

    assert not FollowRequest.objects.exists()
    assert not Follow.objects.exists()
    assert not Notification.objects.filter(recipient=ada).exists()
    assert not Notification.objects.filter(recipient=bob).exists()  # not told
    second = ok(bob_client.post(follow_url(ada)), 202).json()["id"]
    assert second != first


def test_withdrawing_a_request_deletes_it_with_its_notification(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    ada_client, bob_client = make_client(ada), make_client(bob)
    go_private(ada_client)
    request_id = ok(bob_client.post(follow_url(ada)), 202).json()["id"]

    ok(bob_client.delete(follow_url(ada)), 204)

    assert not FollowRequest.objects.exists()
    assert not Notification.objects.filter(recipient=ada).exists()
    assert ok(bob_client.get("/api/users/ada/"), 200).json()["follow_requested"] is False
    assert error_code(ada_client.post(accept_url(request_id)), 404) == "not_found"


def test_only_the_account_asked_answers_a_request(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    """Not the requester (who would let themselves in), not a third account: 404, as for a
    request that does not exist, and nothing changes."""
    go_private(make_client(ada))
    bob_client = make_client(bob)
    request_id = ok(bob_client.post(follow_url(ada)), 202).json()["id"]
    outsider = make_client(UserFactory.create())

    for client in (bob_client, outsider):
        assert error_code(client.post(accept_url(request_id)), 404) == "not_found"
        assert error_code(client.post(reject_url(request_id)), 404) == "not_found"
        assert ok(client.get("/api/follow-requests/"), 200).json()["results"] == []
    assert FollowRequest.objects.filter(pk=request_id).exists()
    assert not Follow.objects.exists()
    assert APIClient().get("/api/follow-requests/").status_code == 401


def test_a_public_account_is_followed_at_once(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    assert ok(make_client(bob).post(follow_url(ada)), 201).json()["following"]["username"] == "ada"
    assert not FollowRequest.objects.exists()


def test_a_block_removes_the_requests_between_the_two(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    ada_client, bob_client = make_client(ada), make_client(bob)
    go_private(ada_client)
    go_private(bob_client)
    ok(bob_client.post(follow_url(ada)), 202)
    ok(ada_client.post(follow_url(bob)), 202)

    block_create(blocker=ada, blocked=bob)

    assert not FollowRequest.objects.exists()
    assert not Notification.objects.exists()
    assert error_code(bob_client.post(follow_url(ada)), 403) == "blocked"


def test_the_database_refuses_a_second_request_and_a_request_to_oneself(ada: User) -> None:
    asker = UserFactory.create()
    FollowRequest.objects.create(requester=asker, target=ada)
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowRequest.objects.create(requester=asker, target=ada)
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowRequest.objects.create(requester=ada, target=ada)


# --- What a private account shows, to whom ---------------------------------------------------


@pytest.fixture
def private_world(ada: User, bob: User, make_client: MakeClient) -> dict[str, Any]:
    """ada is private; bob follows her (accepted); cy does not; she has a post with a
    comment and a like of bob's, and there is a public post by cy."""
    cy = UserFactory.create(username="cy")
    follow_create(follower=bob, followee=ada)  # while ada is public
    go_private(make_client(ada))
    post = post_create(author=ada, title="For friends", content="Only followers read this.")
    comment = comment_create(author=bob, post=post, content="Lovely")
    like_create(user=bob, post=post)
    public = post_create(author=cy, title="Hello", content="Everyone reads this.")
    return {"ada": ada, "bob": bob, "cy": cy, "post": post, "comment": comment, "public": public}


def post_paths(world: dict[str, Any]) -> list[str]:
    post = world["post"]
    return [
        f"/api/posts/{post.pk}/",
        f"/api/posts/{post.pk}/comments/",
        f"/api/posts/{post.pk}/likes/",
        f"/api/comments/{world['comment'].pk}/",
    ]


def test_followers_and_the_owner_see_a_private_accounts_posts(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    post = str(private_world["post"].pk)
    for reader in (private_world["bob"], private_world["ada"]):
        client = make_client(reader)
        assert ids(client.get("/api/posts/?author=ada")) == [post]
        assert ids(client.get("/api/posts/?author=ada&search=friends")) == [post]
        assert post in ids(client.get("/api/feed/"))
        for path in post_paths(private_world):
            ok(client.get(path), 200)
        ok(client.get("/api/users/ada/followers/"), 200)
        ok(client.get("/api/users/ada/following/"), 200)


def test_the_public_timeline_and_search_show_public_posts_and_ones_own(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    """As on Mastodon: a private account's posts reach its followers through their feed and
    its profile (`?author=`), not through the list of all posts or a search of it."""
    post, public = str(private_world["post"].pk), str(private_world["public"].pk)
    bob = make_client(private_world["bob"])
    assert ids(bob.get("/api/posts/")) == [public]
    assert ids(bob.get("/api/posts/?search=friends")) == []
    ada = make_client(private_world["ada"])
    assert ids(ada.get("/api/posts/")) == [public, post]  # newest first
    assert ids(ada.get("/api/posts/?search=friends")) == [post]


@pytest.mark.parametrize("signed_in", [True, False], ids=["stranger", "anonymous"])
def test_nobody_else_sees_a_private_accounts_posts_anywhere(
    private_world: dict[str, Any], make_client: MakeClient, signed_in: bool
) -> None:
    client = make_client(private_world["cy"]) if signed_in else APIClient()
    post = private_world["post"]
    public = str(private_world["public"].pk)

    assert ids(client.get("/api/posts/")) == [public]
    assert ids(client.get("/api/posts/?search=friends")) == []
    assert ids(client.get("/api/posts/?search=only followers")) == []
    assert ids(client.get("/api/posts/?author=ada")) == []
    for path in post_paths(private_world):
        assert error_code(client.get(path), 404) == "not_found", path
    for path in ("/api/users/ada/followers/", "/api/users/ada/following/"):
        assert error_code(client.get(path), 403) == "private_account"
    # The profile stays public, counters included.
    profile = ok(client.get("/api/users/ada/"), 200).json()
    assert (profile["is_private"], profile["followers_count"], profile["posts_count"]) == (
        True,
        1,
        1,
    )
    if signed_in:
        assert public in ids(client.get("/api/feed/"))  # cy's own post
        assert str(post.pk) not in ids(client.get("/api/feed/"))
        # Nor can a stranger act on the post: as absent as a deleted one.
        assert error_code(client.post(f"/api/posts/{post.pk}/like/"), 404) == "not_found"
        comment = client.post(f"/api/posts/{post.pk}/comments/", {"content": "hi"}, format="json")
        assert error_code(comment, 404) == "not_found"
        assert Like.objects.filter(post=post).count() == 1
        assert Comment.objects.filter(post=post).count() == 1


def test_a_comment_by_a_private_account_shows_wherever_its_post_does(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    """A comment belongs to its post's thread: ada's comment on cy's public post is read by
    whoever reads that post."""
    public = private_world["public"]
    comment = comment_create(author=private_world["ada"], post=public, content="Hi cy")
    for client in (APIClient(), make_client(UserFactory.create())):
        thread = ok(client.get(f"/api/posts/{public.pk}/comments/"), 200).json()["results"]
        assert [item["id"] for item in thread] == [str(comment.pk)]
        ok(client.get(f"/api/comments/{comment.pk}/"), 200)


def test_going_private_keeps_followers_and_following_a_new_one_needs_approval(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    ada = private_world["ada"]
    ada.refresh_from_db()
    assert ada.followers_count == 1
    assert Follow.objects.filter(follower=private_world["bob"], followee=ada).exists()
    ok(make_client(private_world["cy"]).post(follow_url(ada)), 202)
    assert ok(make_client(ada).get("/api/me/"), 200).json()["is_private"] is True


def test_removing_a_follower_takes_the_posts_back(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    ada, bob = private_world["ada"], private_world["bob"]
    bob_client = make_client(bob)
    post = private_world["post"]

    ok(make_client(ada).delete("/api/me/followers/bob/"), 204)
    ok(make_client(ada).delete("/api/me/followers/bob/"), 204)  # not a follower: still 204

    assert not Follow.objects.filter(follower=bob, followee=ada).exists()
    assert error_code(bob_client.get(f"/api/posts/{post.pk}/"), 404) == "not_found"
    assert str(post.pk) not in ids(bob_client.get("/api/feed/"))
    # What bob did to the post he may still take back.
    ok(bob_client.delete(f"/api/posts/{post.pk}/like/"), 204)
    ok(bob_client.delete(f"/api/comments/{private_world['comment'].pk}/"), 204)
    assert not Like.objects.filter(post=post).exists()
    assert not Comment.objects.filter(post=post).exists()
    # And he may ask again.
    ok(bob_client.post(follow_url(ada)), 202)
    call_command("repair_counters", "--check")


def test_going_public_accepts_every_waiting_request(
    ada: User, make_client: MakeClient, django_capture_on_commit_callbacks: Any
) -> None:
    ada_client = make_client(ada)
    go_private(ada_client)
    askers = UserFactory.create_batch(3)
    for asker in askers:
        ok(make_client(asker).post(follow_url(ada)), 202)
    ok(ada_client.post(reject_url(FollowRequest.objects.get(requester=askers[0]).pk)), 204)

    with django_capture_on_commit_callbacks(execute=True):
        body = ok(ada_client.patch("/api/me/", {"is_private": False}, format="json"), 200)
        body = body.json()

    assert body["is_private"] is False
    assert not FollowRequest.objects.exists()
    assert set(Follow.objects.filter(followee=ada).values_list("follower_id", flat=True)) == {
        askers[1].pk,
        askers[2].pk,
    }
    ada.refresh_from_db()
    assert ada.followers_count == 2
    kinds = Notification.objects.filter(recipient=ada).values_list("kind", flat=True)
    assert sorted(kinds) == [NotificationKind.FOLLOW] * 2
    call_command("repair_counters", "--check")


def test_patching_other_fields_leaves_privacy_alone(ada: User, make_client: MakeClient) -> None:
    ada_client = make_client(ada)
    go_private(ada_client)
    body = ok(ada_client.patch("/api/me/", {"bio": "Hi"}, format="json"), 200).json()
    assert body["is_private"] is True
    invalid = ada_client.patch("/api/me/", {"is_private": "sometimes"}, format="json")
    assert error_code(invalid, 400) == "invalid"
    ada.refresh_from_db()
    assert ada.is_private is True


def test_the_export_and_the_deletion_include_follow_requests(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    ada_client, bob_client = make_client(ada), make_client(bob)
    go_private(ada_client)
    ok(bob_client.post(follow_url(ada)), 202)

    exported = ok(ada_client.get("/api/me/export/"), 200).json()
    assert exported["account"]["is_private"] is True
    assert [r["username"] for r in exported["follow_requests_received"]] == ["bob"]
    sent = ok(bob_client.get("/api/me/export/"), 200).json()["follow_requests_sent"]
    assert [r["username"] for r in sent] == ["ada"]

    ok(bob_client.delete("/api/me/", {"password": TEST_PASSWORD}, format="json"), 204)
    assert not FollowRequest.objects.exists()
    assert not Notification.objects.exists()


# --- Query counts ----------------------------------------------------------------------------


def test_follow_requests_list_costs_two_queries_whatever_its_length(
    ada: User, make_client: MakeClient, count_queries: CountQueries
) -> None:
    client = make_client(ada)
    FollowRequestFactory.create(target=ada)

    def page() -> None:
        assert client.get("/api/follow-requests/").status_code == 200

    one = count_queries(page)
    FollowRequestFactory.create_batch(25, target=ada)
    full = count_queries(page)
    assert one == full == LIST_QUERIES["/api/follow-requests/"]


def test_a_private_accounts_followers_cost_one_query_more_to_check_the_viewer(
    private_world: dict[str, Any], make_client: MakeClient, count_queries: CountQueries
) -> None:
    client = make_client(private_world["bob"])
    client.get("/api/users/ada/followers/")
    # token, user, "does bob follow ada", page
    assert count_queries(lambda: client.get("/api/users/ada/followers/")) == 4


def test_notifications_with_every_kind_cost_one_query_per_kind(
    ada: User, make_client: MakeClient, count_queries: CountQueries
) -> None:
    ContentType.objects.get_for_models(Follow, Like, Comment, FollowRequest)
    client = make_client(ada)
    follow_create(follower=UserFactory.create(), followee=ada)
    like_create(user=UserFactory.create(), post=PostFactory.create(author=ada))
    go_private(client)
    follow_create(follower=UserFactory.create(), followee=ada)
    comment_create(author=UserFactory.create(), post=PostFactory.create(author=ada), content="x")
    kinds = {item["type"] for item in client.get("/api/notifications/").json()["results"]}
    assert kinds == {"follow", "like", "comment", "follow_request"}
    # token, page with actors, one per kind of target
    assert count_queries(lambda: client.get("/api/notifications/")) == 6


# --- Races on a real database (SQLite here, PostgreSQL with make test-postgres) ------------


def assert_consistent(owner: User) -> None:
    """No request stands beside a follow of the same pair, every follow and request has its
    one notification, and the counters equal the rows."""
    follows = set(Follow.objects.values_list("follower_id", "followee_id"))
    requests = set(FollowRequest.objects.values_list("requester_id", "target_id"))
    assert not follows & requests
    for model in (Follow, FollowRequest):
        notified = Notification.objects.filter(
            target_type=ContentType.objects.get_for_model(model)
        ).values_list("target_id", flat=True)
        assert sorted(notified) == sorted(model.objects.values_list("pk", flat=True))
    call_command("repair_counters", "--check")


@pytest.mark.django_db(transaction=True)
def test_racing_answers_to_one_request_let_exactly_one_through() -> None:
    """The owner accepts from several devices while rejecting from others and the requester
    withdraws: one answer wins, the others find nothing (404), never two follows, never a
    5xx or a deadlock."""
    for _round in range(ROUNDS):
        owner, asker = UserFactory.create(is_private=True), UserFactory.create()
        request, _created = follow_create(follower=asker, followee=owner)
        assert isinstance(request, FollowRequest)
        calls = [Call(client_for(owner), "post", accept_url(request.pk)) for _ in range(4)]
        calls += [Call(client_for(owner), "post", reject_url(request.pk)) for _ in range(2)]
        calls += [Call(client_for(asker), "delete", follow_url(owner)) for _ in range(2)]

        statuses = run_together(calls)

        assert all(status < 500 for status in statuses), statuses
        answers = statuses[:6]
        assert sum(status in (200, 204) for status in answers) <= 1, statuses
        assert set(answers) <= {200, 204, 404}, statuses
        assert set(statuses[6:]) == {204}, statuses
        assert not FollowRequest.objects.filter(pk=request.pk).exists()
        # A withdrawal after the accept unfollows: DELETE .../follow/ undoes either.
        assert Follow.objects.filter(follower=asker).count() <= (1 if 200 in answers else 0)
        assert_consistent(owner)


@contextmanager
def slow_follow_writes(kind: NotificationKind, on_wake: Callable[[int], None]) -> Iterator[None]:
    """Make a privacy switch land while follows or requests are being written, rather than
    before or after them, as it would by luck: the switch starts 20 ms late, and each follow
    (or request) waits 50 ms at its notification, its last write before the commit, then
    calls `on_wake` with the followee's id, still inside its transaction."""
    notify, switch = graph_services.notification_create, graph_services.privacy_set

    def slow_notify(**kwargs: Any) -> Any:
        if kwargs["kind"] == kind:
            time.sleep(0.05)
            on_wake(kwargs["recipient_id"])
        return notify(**kwargs)

    def late_switch(**kwargs: Any) -> None:
        time.sleep(0.02)
        switch(**kwargs)

    with (
        mock.patch.object(graph_services, "notification_create", slow_notify),
        mock.patch.object(graph_services, "privacy_set", late_switch),
    ):
        yield


@pytest.mark.django_db(transaction=True)
def test_requests_racing_a_switch_to_public_all_end_as_follows() -> None:
    """Accounts ask to follow while the owner goes public: each request either lands before
    the switch (and is accepted with the others) or sees a public account (and follows at
    once). None is left waiting on a public account."""
    for _round in range(3):
        owner = UserFactory.create(is_private=True)
        askers = UserFactory.create_batch(5)
        calls = [Call(client_for(asker), "post", follow_url(owner)) for asker in askers]
        calls.append(Call(client_for(owner), "patch", "/api/me/", {"is_private": "false"}))

        with slow_follow_writes(NotificationKind.FOLLOW_REQUEST, lambda _followee: None):
            statuses = run_together(calls)

        assert set(statuses[:-1]) <= {201, 202}, statuses
        assert statuses[-1] == 200
        assert not FollowRequest.objects.exists()
        assert Follow.objects.filter(followee=owner).count() == len(askers)
        assert_consistent(owner)


@pytest.mark.django_db(transaction=True)
def test_follows_racing_a_switch_to_private_never_skip_approval() -> None:
    """Accounts follow while the owner goes private: each either follows before the switch
    (201) or asks after it (202), as its answer says. No follow is still being made without
    approval once the account is private: the switch waits for the follows in flight."""
    went_private_meanwhile: list[int] = []

    def check(followee_id: int) -> None:
        if User.objects.filter(pk=followee_id, is_private=True).exists():
            went_private_meanwhile.append(followee_id)

    for _round in range(3):
        owner = UserFactory.create()
        askers = UserFactory.create_batch(5)
        calls = [Call(client_for(asker), "post", follow_url(owner)) for asker in askers]
        calls.append(Call(client_for(owner), "patch", "/api/me/", {"is_private": "true"}))

        with slow_follow_writes(NotificationKind.FOLLOW, check):
            statuses = run_together(calls)

        assert statuses[-1] == 200
        assert not went_private_meanwhile
        for asker, status in zip(askers, statuses, strict=False):
            assert status in (201, 202), statuses
            assert Follow.objects.filter(follower=asker).exists() == (status == 201)
            assert FollowRequest.objects.filter(requester=asker).exists() == (status == 202)
        assert_consistent(owner)


@pytest.mark.django_db(transaction=True)
def test_an_accept_racing_a_block_leaves_no_follow_beside_the_block() -> None:
    for _round in range(ROUNDS):
        owner, asker = UserFactory.create(is_private=True), UserFactory.create()
        request, _created = follow_create(follower=asker, followee=owner)
        calls = [
            Call(client_for(owner), "post", accept_url(request.pk)),
            Call(client_for(asker), "post", f"/api/users/{owner.username}/block/"),
            Call(client_for(owner), "post", accept_url(request.pk)),
        ]

        statuses = run_together(calls)

        assert all(status < 500 for status in statuses), statuses
        assert Block.objects.filter(blocker=asker, blocked=owner).exists()
        assert not Follow.objects.exists()
        assert not FollowRequest.objects.exists()
        assert_consistent(owner)


def test_following_an_account_gone_public_ends_the_request_left_waiting(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    """ada went public but the acceptance of her waiting requests has not run (a Celery
    backlog), or was lost (the broker was down): bob following her now ends his request, so
    a follow and a request of the same pair never stand together."""
    request = FollowRequestFactory.create(requester=bob, target=ada)
    ada.is_private = False
    ada.save(update_fields=["is_private"])

    ok(make_client(bob).post(follow_url(ada)), 201)

    assert not FollowRequest.objects.exists()
    assert not Notification.objects.filter(kind=NotificationKind.FOLLOW_REQUEST).exists()
    profile = ok(make_client(bob).get("/api/users/ada/"), 200).json()
    assert (profile["is_following"], profile["follow_requested"]) == (True, False)
    with pytest.raises(Http404):
        follow_request_accept(user=ada, request_id=request.pk)
    call_command("repair_counters", "--check")


def test_a_privacy_change_is_compared_with_the_stored_value_not_a_stale_one(
    ada: User, make_client: MakeClient
) -> None:
    """Two changes in flight from one account: the second was authenticated (its user
    loaded) before the first committed. The last one asked for wins."""
    stale = User.objects.get(pk=ada.pk)  # public, as loaded with the token
    profile_update(user=User.objects.get(pk=ada.pk), is_private=True)

    profile_update(user=stale, is_private=False)

    ada.refresh_from_db()
    assert ada.is_private is False
    assert stale.is_private is False


def test_the_acceptance_after_going_public_stops_if_the_account_is_private_again(
    ada: User, bob: User
) -> None:
    """The owner went public, then private again before the acceptance ran: the requests
    wait for the owner's answer, none is accepted on their behalf."""
    ada.is_private = True
    ada.save(update_fields=["is_private"])
    FollowRequestFactory.create(requester=bob, target=ada)

    assert follow_requests_accept_all(user_id=ada.pk) == 0
    request = FollowRequest.objects.get()
    with pytest.raises(Http404):
        follow_request_accept(user=ada, request_id=request.pk, only_while_public=True)
    assert not Follow.objects.exists()
    # Her own answer still works.
    follow_request_accept(user=ada, request_id=request.pk)
    assert Follow.objects.filter(follower=bob, followee=ada).exists()


def test_undoing_does_not_tell_a_stranger_that_a_private_post_exists(
    private_world: dict[str, Any], make_client: MakeClient
) -> None:
    """Unliking a post or deleting a comment one may not see answers 404, as for an id that
    does not exist, unless the like or the comment is one's own."""
    stranger = make_client(private_world["cy"])
    post, comment = private_world["post"], private_world["comment"]
    missing = post.pk + 1
    assert error_code(stranger.delete(f"/api/posts/{missing}/like/"), 404) == "not_found"
    assert error_code(stranger.delete(f"/api/posts/{post.pk}/like/"), 404) == "not_found"
    assert error_code(stranger.delete(f"/api/comments/{comment.pk}/"), 404) == "not_found"
    assert Like.objects.filter(post=post).count() == 1
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_posts_list_hides_private_posts_in_the_statement_not_after(
    private_world: dict[str, Any],
) -> None:
    """A page is full even when private posts stand among the newest: they are filtered by
    the query, not dropped from a page already cut."""
    cy = private_world["cy"]
    Post.objects.bulk_create(
        [Post(author=private_world["ada"], title=f"secret {n}", content="x") for n in range(30)]
    )
    Post.objects.bulk_create([Post(author=cy, title=f"open {n}", content="x") for n in range(5)])
    page = ok(APIClient().get("/api/posts/?limit=5"), 200).json()["results"]
    assert len(page) == 5
    assert {item["author"]["username"] for item in page} == {"cy"}


def test_direct_messages_do_not_depend_on_privacy(
    ada: User, bob: User, make_client: MakeClient
) -> None:
    """A private account can be written to by someone it has not accepted, as any account:
    privacy is about posts and lists of follows (docs/api.md)."""
    go_private(make_client(ada))
    started = make_client(bob).post("/api/conversations/", {"participants": ["ada"]}, format="json")
    conversation = ok(started, 201).json()["id"]
    sent = make_client(bob).post(
        f"/api/conversations/{conversation}/messages/", {"body": "Hello"}, format="json"
    )
    ok(sent, 201)
    inbox = ok(make_client(ada).get("/api/conversations/"), 200).json()["results"]
    assert [item["id"] for item in inbox] == [conversation]
