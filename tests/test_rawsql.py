"""The hot-path reads written as SQL (plaza.core.rawsql) load exactly what the ORM loads.

They run on every database the suite runs on (`make test`, `make test-postgres`): each
backend returns datetimes, booleans and ids differently, and the converters must even that
out the same way the ORM does.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models

from plaza.accounts.models import AuthToken, hash_token
from plaza.accounts.selectors import token_by_digest
from plaza.feed.selectors import feed_post_ids
from plaza.posts.models import Bookmark, Like, Post
from plaza.posts.selectors import posts_by_ids, viewer_marks
from tests.factories import FollowFactory, LikeFactory, PostFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db


def field_values(instance: models.Model) -> dict[str, Any]:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def assert_same_instance(loaded: models.Model, expected: models.Model) -> None:
    assert type(loaded) is type(expected)
    loaded_values, expected_values = field_values(loaded), field_values(expected)
    assert loaded_values == expected_values
    for name, value in loaded_values.items():
        # Equal is not enough: SQLite hands back 0/1 for booleans and text for datetimes.
        assert type(value) is type(expected_values[name]), name
    assert loaded._state.adding is False
    assert loaded._state.db == expected._state.db


def test_token_by_digest_loads_the_token_and_user_the_orm_loads() -> None:
    user = UserFactory.create(
        bio="Poet", is_staff=True, last_login=datetime(2026, 5, 1, 12, 30, 1, 5, tzinfo=UTC)
    )
    user.avatar.save("face.png", SimpleUploadedFile("face.png", b"not checked here"))
    raw = token_for(user)

    token = token_by_digest(hash_token(raw))

    expected = AuthToken.objects.select_related("user").get(digest=hash_token(raw))
    assert token is not None
    assert_same_instance(token, expected)
    assert_same_instance(token.user, expected.user)
    assert token.user.avatar.name == expected.user.avatar.name
    assert token.user.last_login is not None
    assert token.user.last_login.utcoffset() == timedelta(0)


def test_token_by_digest_of_an_unknown_token_is_none() -> None:
    token_for(UserFactory.create())
    assert token_by_digest(hash_token("plz_not-a-token")) is None


def test_token_by_digest_loads_a_deactivated_user_as_inactive() -> None:
    # The authentication class refuses inactive users: the flag must be a real False.
    raw = token_for(UserFactory.create(is_active=False))
    token = token_by_digest(hash_token(raw))
    assert token is not None
    assert token.user.is_active is False


def test_posts_by_ids_loads_the_posts_and_authors_the_orm_loads_in_the_given_order() -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    posts = [
        PostFactory.create(author=alice),
        PostFactory.create(author=bob),
        PostFactory.create(author=alice),
    ]
    Post.objects.filter(pk=posts[1].pk).update(likes_count=3, comments_count=2)
    order = [posts[1].pk, posts[2].pk, posts[0].pk]

    loaded = posts_by_ids(order)

    expected = Post.objects.select_related("author").in_bulk(order)
    assert [post.pk for post in loaded] == order
    for post in loaded:
        assert_same_instance(post, expected[post.pk])
        assert_same_instance(post.author, expected[post.pk].author)
    assert loaded[1].author is loaded[2].author  # one instance per author on a page


def test_posts_by_ids_skips_posts_that_no_longer_exist() -> None:
    kept, deleted = PostFactory.create(), PostFactory.create()
    deleted_id = deleted.pk
    deleted.delete()
    assert [post.pk for post in posts_by_ids([deleted_id, kept.pk])] == [kept.pk]
    assert posts_by_ids([]) == []


def test_viewer_marks_finds_only_the_viewers_likes_and_bookmarks_among_the_posts() -> None:
    viewer, other = UserFactory.create(), UserFactory.create()
    liked, kept, both, neither, marked_elsewhere = PostFactory.create_batch(5)
    LikeFactory.create(user=viewer, post=liked)
    LikeFactory.create(user=viewer, post=both)
    LikeFactory.create(user=viewer, post=marked_elsewhere)
    LikeFactory.create(user=other, post=neither)
    for post in (kept, both, marked_elsewhere):
        Bookmark.objects.create(user=viewer, post=post)
    Bookmark.objects.create(user=other, post=neither)
    page = [liked, kept, both, neither]

    marks = viewer_marks(viewer=viewer, posts=page)

    assert marks.liked == {liked.pk, both.pk}
    assert marks.bookmarked == {kept.pk, both.pk}
    for model, found in ((Like, marks.liked), (Bookmark, marks.bookmarked)):
        assert found == set(
            model.objects.filter(user=viewer, post__in=page).values_list("post_id", flat=True)
        )


def test_feed_post_ids_matches_the_orm_query_for_every_bound_and_order() -> None:
    viewer, followed, stranger = UserFactory.create(), UserFactory.create(), UserFactory.create()
    FollowFactory.create(follower=viewer, followee=followed)
    for author in (viewer, followed, stranger) * 4:
        PostFactory.create(author=author)
    visible = Post.objects.filter(author__in=[viewer, followed]).order_by("-id")
    ids = list(visible.values_list("id", flat=True))
    middle_high, middle_low = ids[2], ids[6]

    assert feed_post_ids(viewer, count=20) == ids
    assert feed_post_ids(viewer, count=3) == ids[:3]
    assert feed_post_ids(viewer, count=20, below=middle_high) == ids[3:]
    assert feed_post_ids(viewer, count=20, above=middle_low) == ids[:6]
    assert feed_post_ids(viewer, count=20, below=middle_high, above=middle_low) == ids[3:6]
    assert feed_post_ids(viewer, count=2, above=middle_low, newest_first=False) == [
        ids[5],
        ids[4],
    ]


def test_feed_post_ids_of_a_user_who_follows_nobody_are_their_own_posts() -> None:
    loner = UserFactory.create()
    own = PostFactory.create(author=loner)
    PostFactory.create()
    assert feed_post_ids(loner, count=20) == [own.pk]
    assert feed_post_ids(UserFactory.create(), count=20) == []
