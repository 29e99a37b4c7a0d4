"""Reposts: passing a post on to one's followers, as docs/api.md
("POST, DELETE /api/posts/{id}/repost/") states it."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.accounts.services import account_erase
from plaza.graph.services import block_create, follow_create, mute_create, privacy_set
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Post, Repost, Visibility
from plaza.posts.services import like_create, post_edit_notify, post_update, repost_create
from tests.factories import PostFactory, UserFactory
from tests.helpers import error_code, ok

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def repost_url(post: Post) -> str:
    return f"/api/posts/{post.pk}/repost/"


def reposters(client: APIClient, post: Post) -> list[str]:
    results = ok(client.get(f"/api/posts/{post.pk}/reposted-by/"), 200).json()["results"]
    return [item["user"]["username"] for item in results]


def test_reposting_is_201_then_200_counted_marked_and_told(make_client: MakeClient) -> None:
    fan, post = UserFactory.create(), PostFactory.create()
    client = make_client(fan)

    first, again = client.post(repost_url(post)), client.post(repost_url(post))

    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        first.json()
        == again.json()
        == {
            "post_id": str(post.pk),
            "reposted": True,
            "reposts_count": 1,
        }
    )
    seen = client.get(f"/api/posts/{post.pk}/").json()
    assert (seen["reposts_count"], seen["reposted_by_me"]) == (1, True)
    assert (
        make_client(UserFactory.create()).get(f"/api/posts/{post.pk}/").json()["reposted_by_me"]
        is False
    )
    assert APIClient().get(f"/api/posts/{post.pk}/").json()["reposted_by_me"] is None
    (told,) = make_client(post.author).get("/api/notifications/").json()["results"]
    assert told["type"] == "repost"
    assert told["actor"]["username"] == fan.username
    assert told["target"]["type"] == "post"
    assert told["target"]["id"] == str(post.pk)


def test_taking_a_repost_back_is_204_also_twice_and_untells(make_client: MakeClient) -> None:
    post = PostFactory.create()
    client = make_client(UserFactory.create())
    client.post(repost_url(post))

    assert client.delete(repost_url(post)).status_code == 204
    assert client.delete(repost_url(post)).status_code == 204

    post.refresh_from_db()
    assert post.reposts_count == 0
    assert not Repost.objects.exists()
    assert not Notification.objects.filter(kind=NotificationKind.REPOST).exists()
    assert client.get(f"/api/posts/{post.pk}/").json()["reposted_by_me"] is False


@pytest.mark.parametrize(
    ("visibility", "author_private", "repostable"),
    [
        (Visibility.PUBLIC, False, True),
        (Visibility.UNLISTED, False, True),
        (Visibility.FOLLOWERS, False, False),
        (Visibility.DIRECT, False, False),
        # A private account's posts are for its followers whatever their visibility says.
        (Visibility.PUBLIC, True, False),
        (Visibility.UNLISTED, True, False),
    ],
)
def test_only_what_anyone_may_read_can_be_passed_on(
    make_client: MakeClient, visibility: Visibility, author_private: bool, repostable: bool
) -> None:
    author, fan = UserFactory.create(), UserFactory.create()
    # The fan follows the author and is mentioned: they read the post whatever it is.
    follow_create(follower=fan, followee=author)
    privacy_set(user=author, is_private=author_private)
    post = ok(
        make_client(author).post(
            "/api/posts/",
            {"content": f"for @{fan.username}", "visibility": visibility},
            format="json",
        ),
        201,
    ).json()
    client = make_client(fan)
    assert ok(client.get(f"/api/posts/{post['id']}/"), 200)

    answer = client.post(f"/api/posts/{post['id']}/repost/")

    if repostable:
        assert answer.status_code == 201
    else:
        assert error_code(answer, 403) == "not_repostable"
        assert not Repost.objects.exists()
        assert Post.objects.get(pk=post["id"]).reposts_count == 0
        assert not Notification.objects.filter(kind=NotificationKind.REPOST).exists()


def test_no_repost_across_a_block(make_client: MakeClient) -> None:
    author, blocked, blocking = UserFactory.create_batch(3)
    post = PostFactory.create(author=author)
    block_create(blocker=author, blocked=blocked)
    block_create(blocker=blocking, blocked=author)

    assert make_client(blocked).post(repost_url(post)).status_code == 404
    assert error_code(make_client(blocking).post(repost_url(post)), 403) == "blocking"
    assert not Repost.objects.exists()


def test_a_repost_can_be_taken_back_after_its_post_went_out_of_sight(
    make_client: MakeClient,
) -> None:
    author, fan, stranger = UserFactory.create_batch(3)
    post = PostFactory.create(author=author)
    client = make_client(fan)
    client.post(repost_url(post))
    block_create(blocker=author, blocked=fan)

    assert client.delete(repost_url(post)).status_code == 204
    assert not Repost.objects.exists()
    block_create(blocker=author, blocked=stranger)
    assert make_client(stranger).delete(repost_url(post)).status_code == 404


def test_reposted_by_lists_newest_first_less_those_the_viewer_hides(
    make_client: MakeClient,
) -> None:
    post = PostFactory.create()
    ann, bob, cy, viewer = (UserFactory.create(username=name) for name in ("ann", "bob", "cy", "v"))
    for fan in (ann, bob, cy):
        repost_create(user=fan, post=post)
    mute_create(muter=viewer, muted=bob)

    assert reposters(APIClient(), post) == ["cy", "bob", "ann"]
    assert reposters(make_client(viewer), post) == ["cy", "ann"]
    block_create(blocker=post.author, blocked=viewer)
    assert make_client(viewer).get(f"/api/posts/{post.pk}/reposted-by/").status_code == 404


def test_an_edit_tells_those_who_reposted_it_once_each(make_client: MakeClient) -> None:
    post = PostFactory.create(content="before")
    reposter, both, liker = UserFactory.create_batch(3)
    repost_create(user=reposter, post=post)
    repost_create(user=both, post=post)
    like_create(user=both, post=post)
    like_create(user=liker, post=post)

    post_update(post=post, content="after")
    version = post.edits.latest("id")

    assert post_edit_notify(edit_id=version.pk) == 3
    told = Notification.objects.filter(kind=NotificationKind.UPDATE)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(
        [reposter.pk, both.pk, liker.pk]
    )


def test_deleting_the_post_takes_its_reposts(make_client: MakeClient) -> None:
    post = PostFactory.create()
    client = make_client(UserFactory.create())
    client.post(repost_url(post))

    assert make_client(post.author).delete(f"/api/posts/{post.pk}/").status_code == 204

    assert not Repost.objects.exists()
    assert not Notification.objects.exists()
    assert client.post(repost_url(post)).status_code == 404


def test_leaving_takes_ones_reposts_and_corrects_the_counts(make_client: MakeClient) -> None:
    fan, other = UserFactory.create(), UserFactory.create()
    post = PostFactory.create()
    repost_create(user=fan, post=post)
    repost_create(user=other, post=post)
    export = ok(make_client(fan).get("/api/me/export/"), 200).json()
    assert [kept["post_id"] for kept in export["reposts"]] == [str(post.pk)]

    account_erase(user=fan)

    post.refresh_from_db()
    assert post.reposts_count == 1
    assert list(Repost.objects.values_list("user_id", flat=True)) == [other.pk]


def test_reposting_a_missing_post_is_404(make_client: MakeClient) -> None:
    client = make_client(UserFactory.create())
    assert client.post("/api/posts/123456789/repost/").status_code == 404
    assert client.delete("/api/posts/123456789/repost/").status_code == 404
    assert client.get("/api/posts/123456789/reposted-by/").status_code == 404
    assert APIClient().post("/api/posts/123456789/repost/").status_code == 401
