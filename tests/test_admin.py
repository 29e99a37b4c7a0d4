"""The admin moderates: adding accounts works, posts and comments are read and deleted only,
and deleting goes through the services (counters and notifications stay right)."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.test import Client

from plaza.accounts.models import User
from plaza.graph.services import follow_create
from plaza.posts.models import Post
from plaza.posts.services import comment_create, post_create
from tests.factories import UserFactory, upload_for
from tests.helpers import ADD_USER, admin_add

pytestmark = pytest.mark.django_db


def test_adding_users_asks_for_their_email(admin_client: Client) -> None:
    assert 'name="email"' in admin_client.get(ADD_USER).content.decode()
    assert admin_add(admin_client, "first", "first@example.com").status_code == 302
    assert admin_add(admin_client, "second", "second@example.com").status_code == 302
    assert set(User.objects.values_list("email", flat=True)) >= {
        "first@example.com",
        "second@example.com",
    }


@pytest.mark.parametrize(
    ("username", "email"),
    [("noemail", ""), ("dupe", "FIRST@example.com"), ("First", "other@example.com")],
)
def test_adding_a_user_refuses_missing_or_taken_details(
    admin_client: Client, username: str, email: str
) -> None:
    admin_add(admin_client, "first", "first@example.com")
    assert (
        admin_add(admin_client, username, email).status_code == 200
    )  # the form again, with errors
    assert not User.objects.filter(username=username).exists()


def test_posts_and_comments_are_read_only_but_deletable(admin_client: Client) -> None:
    author, fan = UserFactory.create(), UserFactory.create()
    post = post_create(author=author, title="Hello", content="Body")
    comment_create(author=fan, post=post, content="Hi")
    change = f"/admin/posts/post/{post.pk}/change/"

    assert admin_client.get(change).status_code == 200  # viewable
    assert admin_client.post(change, {"title": "Edited", "content": "x"}).status_code == 403
    assert admin_client.get("/admin/posts/post/add/").status_code == 403

    response = admin_client.post(f"/admin/posts/post/{post.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Post.objects.filter(pk=post.pk).exists()
    author.refresh_from_db()
    assert author.posts_count == 0  # the service ran


def test_deleting_an_account_in_the_admin_goes_through_the_service(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """Others' counters are corrected and the account's files deleted, as when the account
    deletes itself."""
    leaving, stays = UserFactory.create(), UserFactory.create()
    kept_post = post_create(author=stays, title="Stays", content="x")
    comment_create(author=leaving, post=kept_post, content="Bye")
    # Rows the admin shows read-only go with the account all the same.
    follow_create(follower=leaving, followee=stays)
    follow_create(follower=stays, followee=leaving)
    picture = upload_for(leaving)
    confirmation = admin_client.get(f"/admin/accounts/user/{leaving.pk}/delete/")
    assert confirmation.status_code == 200
    assert b"permission to delete" not in confirmation.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/accounts/user/{leaving.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=leaving.pk).exists()
    kept_post.refresh_from_db()
    assert kept_post.comments_count == 0
    stays.refresh_from_db()
    assert (stays.followers_count, stays.following_count) == (0, 0)
    assert not default_storage.exists(picture.file.name)


def test_a_moderator_who_may_delete_accounts_needs_no_permission_on_their_follows_only(
    client: Client,
) -> None:
    """Follows and blocks are read-only in the admin, so nobody holds their delete
    permission: they go with the account. What else goes with it (posts, with others'
    comments on them) still needs the moderator's own permission."""
    moderator = UserFactory.create(is_staff=True)
    # Notifications others got from the account go with it too: the admin lets them be
    # deleted, so deleting them takes that permission, as a post does.
    moderator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "delete_user", "delete_notification"])
    )
    client.force_login(moderator)
    follower, poster, followed = UserFactory.create_batch(3)
    follow_create(follower=follower, followee=followed)
    post_create(author=poster, title="Mine", content="x")

    may = client.get(f"/admin/accounts/user/{follower.pk}/delete/")
    assert may.status_code == 200
    assert b"permission to delete" not in may.content
    may_not = client.get(f"/admin/accounts/user/{poster.pk}/delete/")
    assert may_not.status_code == 200
    assert b"permission to delete the following types of objects" in may_not.content
    assert b"post" in may_not.content
