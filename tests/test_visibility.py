"""Per-post visibility on every read path, by the one rule every face shares
(plaza.posts.selectors.readable_by), as docs/api.md ("Visibility") states it:

| visibility | by id, on the profile             | home feed               | public lists |
| ---------- | --------------------------------- | ----------------------- | ------------ |
| public     | everyone                          | followers, tag followers | yes         |
| unlisted   | everyone                          | followers               | no           |
| followers  | followers and the accounts named  | followers               | no           |
| direct     | the accounts named                | nobody else             | no           |

Its author reads every one of them everywhere but in the public lists, where they see their
public posts only, as everyone does. Public lists are the public timeline, search, tag
pages and trends.
"""

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.services import follow_create, follow_delete, privacy_set
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Like, Post, Visibility
from plaza.posts.services import comment_create, like_create, post_create
from plaza.tags.models import TagUse
from plaza.tags.services import post_text_link, tag_follow_create, text_read
from tests.factories import PostFactory, UserFactory
from tests.helpers import SharedRows, client_for, error_code, ids, ok

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]

READERS = ("author", "follower", "mentioned", "stranger", "anonymous")
# Who reads each post by id, on the author's profile and in their lists of comments and likes.
READ_BY = {
    Visibility.PUBLIC: set(READERS),
    Visibility.UNLISTED: set(READERS),
    Visibility.FOLLOWERS: {"author", "follower", "mentioned"},
    Visibility.DIRECT: {"author", "mentioned"},
}
# Whose home feed has it: the stranger follows the post's tag, the mentioned account nobody.
IN_FEED_OF = {
    Visibility.PUBLIC: {"author", "follower", "stranger"},
    Visibility.UNLISTED: {"author", "follower"},
    Visibility.FOLLOWERS: {"author", "follower"},
    Visibility.DIRECT: {"author"},
}


@pytest.fixture(scope="class")
def world(class_db: SharedRows) -> dict[str, Any]:
    """ada's four posts, one of each visibility, each naming cy and tagged #garden, with a
    comment and a like by ada; bob follows ada, dee follows #garden."""
    with class_db():
        ada, bob, cy, dee = (
            UserFactory.create(username=name) for name in ("ada", "bob", "cy", "dee")
        )
        follow_create(follower=bob, followee=ada)
        tag_follow_create(user=dee, name="garden")
        posts: dict[str, Post] = {}
        for visibility in Visibility:
            post = post_create(
                author=ada,
                content=f"For @cy: the {visibility} roses #garden",
                visibility=visibility,
            )
            comment_create(author=ada, post=post, content=f"{visibility} thorns")
            like_create(user=ada, post=post)
            posts[visibility] = post
        return {
            "author": ada,
            "follower": bob,
            "mentioned": cy,
            "stranger": dee,
            "posts": posts,
        }


def client_of(world: dict[str, Any], reader: str) -> APIClient:
    return APIClient() if reader == "anonymous" else client_for(world[reader])


class TestEveryReadPath:
    """ada's four posts read by each kind of reader on each read path."""

    @pytest.mark.parametrize("reader", READERS)
    @pytest.mark.parametrize("visibility", list(Visibility))
    def test_who_reads_a_post_by_id_and_on_the_profile(
        self, world: dict[str, Any], visibility: Visibility, reader: str
    ) -> None:
        client = client_of(world, reader)
        post = world["posts"][visibility]
        comment = post.comments.get()
        paths = [
            f"/api/posts/{post.pk}/",
            f"/api/posts/{post.pk}/comments/",
            f"/api/posts/{post.pk}/likes/",
            f"/api/posts/{post.pk}/history/",
            f"/api/comments/{comment.pk}/",
        ]
        on_profile = str(post.pk) in ids(client.get("/api/posts/?author=ada&limit=10"))

        if reader in READ_BY[visibility]:
            assert on_profile
            for path in paths:
                ok(client.get(path), 200)
            assert client.get(paths[0]).json()["visibility"] == visibility
        else:
            assert not on_profile
            for path in paths:
                assert error_code(client.get(path), 404) == "not_found", path

    @pytest.mark.parametrize("reader", READERS)
    def test_public_lists_show_public_posts_alone(self, world: dict[str, Any], reader: str) -> None:
        client = client_of(world, reader)
        public = [str(world["posts"][Visibility.PUBLIC].pk)]

        assert ids(client.get("/api/posts/")) == public
        assert ids(client.get("/api/posts/?search=roses")) == public
        assert ids(client.get("/api/tags/garden/posts/")) == public
        (trend,) = client.get("/api/trends/tags/").json()
        assert (trend["name"], trend["history"][0]["uses"]) == ("garden", 1)
        assert client.get("/api/tags/garden/").json()["history"][0]["uses"] == 1

    @pytest.mark.parametrize("reader", ["author", "follower", "mentioned", "stranger"])
    def test_whose_home_feed_has_a_post(self, world: dict[str, Any], reader: str) -> None:
        feed = set(ids(client_of(world, reader).get("/api/feed/?limit=10")))
        expected = {
            str(post.pk)
            for visibility, post in world["posts"].items()
            if reader in IN_FEED_OF[visibility]
        }
        assert feed == expected

    @pytest.mark.parametrize("visibility", [Visibility.FOLLOWERS, Visibility.DIRECT])
    def test_those_who_may_not_read_a_post_cannot_act_on_it(
        self, world: dict[str, Any], visibility: Visibility
    ) -> None:
        """To the stranger it is as absent as a deleted post: no like, comment or bookmark."""
        client = client_of(world, "stranger")
        post = world["posts"][visibility]

        for path in (f"/api/posts/{post.pk}/like/", f"/api/posts/{post.pk}/bookmark/"):
            assert error_code(client.post(path), 404) == "not_found", path
        answer = client.post(f"/api/posts/{post.pk}/comments/", {"content": "hi"}, format="json")
        assert error_code(answer, 404) == "not_found"
        assert Like.objects.filter(post=post).count() == 1
        assert post.comments.count() == 1

    def test_the_accounts_named_are_told_whatever_the_visibility(
        self, world: dict[str, Any]
    ) -> None:
        told = Notification.objects.filter(
            recipient=world["mentioned"], kind=NotificationKind.MENTION
        ).count()
        assert told == len(Visibility)


# --- Choosing, defaults, edits ---------------------------------------------------------------


def test_a_post_is_public_unless_its_author_is_private(make_client: MakeClient) -> None:
    ada, grace = UserFactory.create(), UserFactory.create()
    privacy_set(user=grace, is_private=True)

    mine = make_client(ada).post("/api/posts/", {"content": "hi"}, format="json")
    hers = make_client(grace).post("/api/posts/", {"content": "hi"}, format="json")
    chosen = make_client(ada).post(
        "/api/posts/", {"content": "hi", "visibility": "unlisted"}, format="json"
    )

    assert ok(mine, 201).json()["visibility"] == "public"
    assert ok(hers, 201).json()["visibility"] == "followers"
    assert ok(chosen, 201).json()["visibility"] == "unlisted"


def test_the_export_keeps_each_posts_visibility(make_client: MakeClient) -> None:
    """Moving elsewhere, an account can publish each post to the same readers again."""
    client = make_client(UserFactory.create())
    for visibility in Visibility:
        client.post("/api/posts/", {"content": "hi", "visibility": visibility}, format="json")

    export = ok(client.get("/api/me/export/"), 200).json()

    assert [post["visibility"] for post in export["posts"]] == list(Visibility)


@pytest.mark.parametrize("value", ["friends", "PUBLIC", "", None, 3])
def test_an_unknown_visibility_is_refused_and_nothing_is_posted(
    make_client: MakeClient, value: object
) -> None:
    author = UserFactory.create()
    answer = make_client(author).post(
        "/api/posts/", {"content": "hi", "visibility": value}, format="json"
    )
    assert error_code(answer, 400) == "invalid"
    assert answer.json()["fields"].keys() == {"visibility"}
    assert not Post.objects.filter(author=author).exists()


def test_a_posts_visibility_is_fixed_once_published(make_client: MakeClient) -> None:
    """Those who read it may have replied to it or kept it: a narrower one would take it from
    them, a wider one would show it to those its author kept it from."""
    client = make_client(UserFactory.create())
    post = ok(
        client.post("/api/posts/", {"content": "hi", "visibility": "followers"}, format="json"), 201
    )
    url = f"/api/posts/{post.json()['id']}/"

    wider = client.patch(url, {"content": "edited", "visibility": "public"}, format="json")
    same = client.patch(url, {"content": "edited", "visibility": "followers"}, format="json")

    assert error_code(wider, 400) == "visibility_fixed"
    assert ok(same, 200).json()["content"] == "edited"
    assert Post.objects.get(pk=post.json()["id"]).visibility == Visibility.FOLLOWERS


# --- With the account's privacy ---------------------------------------------------------------


def test_a_private_accounts_public_post_is_for_its_followers_until_it_goes_public(
    make_client: MakeClient,
) -> None:
    ada, bob, cy = UserFactory.create(username="ada"), UserFactory.create(), UserFactory.create()
    follow_create(follower=bob, followee=ada)
    privacy_set(user=ada, is_private=True)
    public = post_create(author=ada, content="open #roses", visibility=Visibility.PUBLIC)
    followers = post_create(author=ada, content="closed #roses")
    assert followers.visibility == Visibility.FOLLOWERS
    url = f"/api/posts/{public.pk}/"

    ok(make_client(bob).get(url), 200)
    assert error_code(make_client(cy).get(url), 404) == "not_found"
    assert ids(APIClient().get("/api/posts/")) == []
    assert ids(APIClient().get("/api/tags/roses/posts/")) == []
    assert APIClient().get("/api/trends/tags/").json() == []

    privacy_set(user=ada, is_private=False)

    # Its followers-only post stays theirs; its public one is now everyone's.
    ok(make_client(cy).get(url), 200)
    assert ids(APIClient().get("/api/posts/")) == [str(public.pk)]
    assert ids(APIClient().get("/api/tags/roses/posts/")) == [str(public.pk)]
    assert [tag["name"] for tag in APIClient().get("/api/trends/tags/").json()] == ["roses"]
    only_followers = f"/api/posts/{followers.pk}/"
    assert error_code(make_client(cy).get(only_followers), 404) == "not_found"
    ok(make_client(bob).get(only_followers), 200)


def test_unfollowing_takes_back_the_followers_posts_bookmarked_before(
    make_client: MakeClient,
) -> None:
    ada, bob = UserFactory.create(), UserFactory.create()
    follow_create(follower=bob, followee=ada)
    kept = post_create(author=ada, content="for friends", visibility=Visibility.FOLLOWERS)
    bob_client = make_client(bob)
    ok(bob_client.post(f"/api/posts/{kept.pk}/bookmark/"), 201)
    assert ids(bob_client.get("/api/me/bookmarks/")) == [str(kept.pk)]

    follow_delete(follower=bob, followee=ada)

    assert ids(bob_client.get("/api/me/bookmarks/")) == []
    assert error_code(bob_client.get(f"/api/posts/{kept.pk}/"), 404) == "not_found"


def test_the_migration_keeps_a_private_accounts_posts_with_their_followers(
    make_client: MakeClient,
) -> None:
    """Posts written before visibility were read by a private account's followers alone:
    `followers` says so, and keeps them out of public lists should the account go public."""
    private, public, reader = UserFactory.create_batch(3)
    privacy_set(user=private, is_private=True)
    hidden = PostFactory.create(author=private, content="#kept")
    shown = PostFactory.create(author=public, content="#kept")
    for post in (hidden, shown):
        post_text_link(post=post, text=text_read(post.content))
    Post.objects.update(visibility=Visibility.PUBLIC)  # as the field's default left them
    migration = importlib.import_module("plaza.posts.migrations.0004_post_visibility")

    migration.private_accounts_posts_to_followers(apps, None)

    assert dict(Post.objects.values_list("pk", "visibility")) == {
        hidden.pk: Visibility.FOLLOWERS,
        shown.pk: Visibility.PUBLIC,
    }
    assert list(TagUse.objects.values_list("account_id", flat=True)) == [public.pk]
    privacy_set(user=private, is_private=False)
    assert ids(make_client(reader).get("/api/posts/")) == [str(shown.pk)]
    assert error_code(make_client(reader).get(f"/api/posts/{hidden.pk}/"), 404) == "not_found"
