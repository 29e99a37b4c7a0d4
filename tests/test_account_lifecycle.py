"""Leaving Plaza: exporting everything an account owns, and deleting the account for good
with every other account's counters and conversations left right."""

from collections.abc import Callable

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.graph.models import Follow
from plaza.graph.services import follow_create
from plaza.messaging.models import Conversation, Message
from plaza.messaging.services import conversation_get_or_create, message_send
from plaza.notifications.models import Notification
from plaza.posts.models import Bookmark, Comment, Like, Post
from plaza.posts.services import bookmark_create, comment_create, like_create
from tests.factories import TEST_PASSWORD, PostFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


@pytest.fixture
def network() -> dict[str, User]:
    """Ada, who is leaving, tangled up with Grace and Alan in every way there is."""
    ada, grace, alan = (UserFactory.create(username=name) for name in ("ada", "grace", "alan"))
    follow_create(follower=ada, followee=grace)
    follow_create(follower=alan, followee=ada)
    grace_post, ada_post = PostFactory.create(author=grace), PostFactory.create(author=ada)
    like_create(user=ada, post=grace_post)
    like_create(user=grace, post=ada_post)
    bookmark_create(user=ada, post=grace_post)
    bookmark_create(user=grace, post=ada_post)
    comment_create(author=ada, post=grace_post, content="first")
    comment_create(author=ada, post=grace_post, content="second")
    comment_create(author=grace, post=grace_post, content="mine")
    comment_create(author=grace, post=ada_post, content="on hers")
    trio, _ = conversation_get_or_create(creator=grace, usernames=["ada", "alan"])
    message_send(sender=grace, conversation=trio, body="hello both")
    message_send(sender=ada, conversation=trio, body="hello from ada")
    call_command("repair_counters", verbosity=0)  # the factory's posts bypass the services
    return {"ada": ada, "grace": grace, "alan": alan}


def test_deleting_an_account_removes_what_it_made_and_fixes_everyone_elses_counters(
    network: dict[str, User], make_client: MakeClient
) -> None:
    ada, grace, alan = network["ada"], network["grace"], network["alan"]
    grace_post = Post.objects.get(author=grace)
    other_device = token_for(ada)

    response = make_client(ada).delete("/api/me/", {"password": TEST_PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=ada.pk).exists()
    assert not Post.objects.filter(author_id=ada.pk).exists()
    assert not Comment.objects.filter(author_id=ada.pk).exists()
    assert not Like.objects.filter(user_id=ada.pk).exists()
    assert not Bookmark.objects.filter(user_id=ada.pk).exists()
    # Grace's bookmark of Ada's post went with the post.
    assert not Bookmark.objects.filter(user=grace).exists()
    assert not Follow.objects.filter(follower_id=ada.pk).exists()
    assert not Follow.objects.filter(followee_id=ada.pk).exists()
    assert not AuthToken.objects.filter(user_id=ada.pk).exists()
    assert not Notification.objects.filter(actor_id=ada.pk).exists()
    grace.refresh_from_db()
    alan.refresh_from_db()
    grace_post.refresh_from_db()
    assert (grace.followers_count, alan.following_count) == (0, 0)
    assert (grace_post.likes_count, grace_post.comments_count) == (0, 1)
    # Nothing is left for repair_counters to fix.
    call_command("repair_counters", "--check")
    # Every device is signed out.
    signed_out = APIClient()
    signed_out.credentials(HTTP_AUTHORIZATION=f"Token {other_device}")
    assert signed_out.get("/api/me/").status_code == 401


def test_a_conversation_stays_for_the_others_with_its_newest_message_left(
    network: dict[str, User], make_client: MakeClient
) -> None:
    ada, grace = network["ada"], network["grace"]
    trio = Conversation.objects.get()

    make_client(ada).delete("/api/me/", {"password": TEST_PASSWORD}, format="json")

    trio.refresh_from_db()
    assert list(Message.objects.filter(conversation=trio).values_list("body", flat=True)) == [
        "hello both"
    ]
    listed = make_client(grace).get("/api/conversations/").json()["results"]
    assert [item["last_message"]["body"] for item in listed] == ["hello both"]
    assert {p["username"] for p in listed[0]["participants"]} >= {"grace", "alan"}


@pytest.mark.parametrize("body", [{"password": "not my password"}, {}, {"password": ""}])
def test_deleting_needs_the_password(
    network: dict[str, User], make_client: MakeClient, body: dict[str, str]
) -> None:
    ada = network["ada"]

    response = make_client(ada).delete("/api/me/", body, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["fields"]
    assert User.objects.filter(pk=ada.pk).exists()
    assert Post.objects.filter(author=ada).exists()


def test_deleting_needs_a_token() -> None:
    assert APIClient().delete("/api/me/", {"password": TEST_PASSWORD}).status_code == 401


def test_the_export_holds_everything_the_account_owns(
    network: dict[str, User], make_client: MakeClient
) -> None:
    ada = network["ada"]

    response = make_client(ada).get("/api/me/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="plaza-ada-')
    export = response.json()
    assert export["format_version"] == 1
    assert export["account"]["username"] == "ada"
    assert export["account"]["email"] == ada.email
    assert [post["id"] for post in export["posts"]] == [
        str(pk) for pk in Post.objects.filter(author=ada).values_list("pk", flat=True)
    ]
    assert [comment["content"] for comment in export["comments"]] == ["first", "second"]
    assert len(export["likes"]) == 1
    grace_post = Post.objects.get(author=network["grace"])
    assert [kept["post_id"] for kept in export["bookmarks"]] == [str(grace_post.pk)]
    assert [f["username"] for f in export["following"]] == ["grace"]
    assert [f["username"] for f in export["followers"]] == ["alan"]
    assert {n["type"] for n in export["notifications"]} == {"follow", "like", "comment"}
    assert len(export["devices"]) == 1
    (conversation,) = export["conversations"]
    assert conversation["participants"] == ["ada", "alan", "grace"]
    assert [(m["sender"], m["body"]) for m in conversation["messages"]] == [
        ("grace", "hello both"),
        ("ada", "hello from ada"),
    ]


def test_the_export_holds_nothing_of_other_peoples_own(
    network: dict[str, User], make_client: MakeClient
) -> None:
    export = make_client(network["alan"]).get("/api/me/export/").json()

    assert export["posts"] == []
    assert export["comments"] == []
    assert export["likes"] == []
    assert export["bookmarks"] == []
    assert [f["username"] for f in export["following"]] == ["ada"]
    assert "grace" not in str(export["account"])


def test_exporting_needs_a_token() -> None:
    assert APIClient().get("/api/me/export/").status_code == 401
