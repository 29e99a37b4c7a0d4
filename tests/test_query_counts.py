"""Every list costs the same, small, pinned number of SQL queries for 1 item and a full page.

Counts include the token lookup (one query: tokens are refreshed at most hourly, so a fresh
token does not write). When a count here changes, the change is either a regression (an N+1,
a forgotten select_related) or a deliberate improvement: update the pinned number with care.
"""

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.graph.services import block_create, follow_create, mute_create
from plaza.media.services import media_attach
from plaza.posts.models import (
    PINS_PER_ACCOUNT,
    Bookmark,
    Comment,
    Like,
    Pin,
    Post,
    PostEdit,
    Repost,
)
from plaza.posts.services import (
    comment_create,
    like_create,
    post_create,
    post_edit_notify,
    post_update,
    repost_create,
)
from plaza.tags.services import tag_follow_create
from tests.factories import (
    CommentFactory,
    FollowFactory,
    LikeFactory,
    PostFactory,
    UserFactory,
    upload_for,
)
from tests.helpers import PAGE, assert_flat, client_for, page_queries
from tests.routes import LIST_QUERIES

pytestmark = pytest.mark.django_db

CountQueries = Callable[[Callable[[], object]], int]


@pytest.fixture(autouse=True)
def warm_content_types() -> None:
    # ContentType lookups are cached per process; load them so the counts below do not depend
    # on which test ran first.
    ContentType.objects.get_for_models(Follow, Like, Comment)


@pytest.fixture
def viewer() -> User:
    return UserFactory.create()


@pytest.fixture
def viewer_client(viewer: User) -> APIClient:
    return client_for(viewer)


# --- Accounts and graph ---------------------------------------------------------------------


def test_users_list(viewer_client: APIClient) -> None:
    def grow() -> None:
        UserFactory.create_batch(PAGE)

    # The viewer is the one item of the first page.
    assert assert_flat(viewer_client, "/api/users/", grow) == LIST_QUERIES["/api/users/"]


def test_users_search(viewer_client: APIClient) -> None:
    UserFactory.create(username="someone_else")
    url = "/api/users/?search=findme"
    UserFactory.create(username="findme_0")

    def grow() -> None:
        for i in range(1, PAGE + 3):
            UserFactory.create(username=f"findme_{i}")

    assert assert_flat(viewer_client, url, grow) == 2  # token, page


def test_followers(viewer_client: APIClient) -> None:
    star = UserFactory.create()
    FollowFactory.create(followee=star)
    url = f"/api/users/{star.username}/followers/"

    def grow() -> None:
        for _ in range(PAGE + 2):
            FollowFactory.create(followee=star)

    assert assert_flat(viewer_client, url, grow) == LIST_QUERIES["/api/users/{username}/followers/"]


def test_following(viewer_client: APIClient) -> None:
    fan = UserFactory.create()
    FollowFactory.create(follower=fan)
    url = f"/api/users/{fan.username}/following/"

    def grow() -> None:
        for _ in range(PAGE + 2):
            FollowFactory.create(follower=fan)

    assert assert_flat(viewer_client, url, grow) == LIST_QUERIES["/api/users/{username}/following/"]


@pytest.mark.parametrize(
    ("url", "hide", "pinned"),
    [
        (
            "/api/me/blocks/",
            lambda viewer, other: block_create(blocker=viewer, blocked=other),
            LIST_QUERIES["/api/me/blocks/"],
        ),
        (
            "/api/me/mutes/",
            lambda viewer, other: mute_create(muter=viewer, muted=other),
            LIST_QUERIES["/api/me/mutes/"],
        ),
    ],
    ids=["blocks", "mutes"],
)
def test_blocks_and_mutes(
    viewer: User,
    viewer_client: APIClient,
    url: str,
    hide: Callable[[User, User], object],
    pinned: int,
) -> None:
    hide(viewer, UserFactory.create())

    def grow() -> None:
        for _ in range(PAGE + 2):
            hide(viewer, UserFactory.create())

    assert assert_flat(viewer_client, url, grow) == pinned


def test_user_profile(count_queries: CountQueries, viewer: User, viewer_client: APIClient) -> None:
    other = UserFactory.create()
    FollowFactory.create(follower=viewer, followee=other)
    FollowFactory.create(follower=other, followee=viewer)
    url = f"/api/users/{other.username}/"
    assert viewer_client.get(url).json()["follows_you"] is True
    # token, user, relationship (both directions at once)
    assert count_queries(lambda: viewer_client.get(url)) == 3


def test_user_profile_anonymous(count_queries: CountQueries, api_client: APIClient) -> None:
    other = UserFactory.create()
    assert api_client.get(f"/api/users/{other.username}/").status_code == 200
    assert count_queries(lambda: api_client.get(f"/api/users/{other.username}/")) == 1


# --- Posts, comments, likes -----------------------------------------------------------------


def like_some(viewer: User, posts: list[Post]) -> None:
    """The viewer's likes, bookmarks, pins and reposts make the `*_by_me` marks true on parts
    of the page (one query for all), and pictures are on part of it (one, or two in order):
    each still one query for the page."""
    for post in posts[::2]:
        LikeFactory.create(user=viewer, post=post)
    for post in posts[1::2]:
        Repost.objects.create(user=viewer, post=post)
    for post in posts[::3]:
        Bookmark.objects.create(user=viewer, post=post)
    for post in [post for post in posts if post.author_id == viewer.pk][:PINS_PER_ACCOUNT]:
        Pin.objects.get_or_create(
            user=viewer, post=post, defaults={"slot": Pin.objects.filter(user=viewer).count()}
        )
    for index, post in enumerate(posts[::3]):
        media = [upload_for(post.author) for _ in range(1 + index % 2)]
        media_attach(post=post, media_ids=[item.pk for item in media])


def test_posts_list(viewer: User, viewer_client: APIClient) -> None:
    like_some(viewer, [PostFactory.create()])

    def grow() -> None:
        like_some(
            viewer, [PostFactory.create(author=UserFactory.create()) for _ in range(PAGE + 2)]
        )

    assert assert_flat(viewer_client, "/api/posts/", grow) == LIST_QUERIES["/api/posts/"]


def test_posts_list_anonymous(api_client: APIClient) -> None:
    like_some(UserFactory.create(), [PostFactory.create()])

    def grow() -> None:
        like_some(UserFactory.create(), PostFactory.create_batch(PAGE + 2))

    assert assert_flat(api_client, "/api/posts/", grow) == 2  # page, attachments


def test_posts_search(viewer: User, viewer_client: APIClient) -> None:
    PostFactory.create(title="other things")
    like_some(viewer, [PostFactory.create(title="needle 0")])

    def grow() -> None:
        like_some(viewer, [PostFactory.create(title=f"needle {i}") for i in range(1, PAGE + 2)])

    assert assert_flat(viewer_client, "/api/posts/?search=needle", grow) == 4


def test_posts_by_author(viewer: User, viewer_client: APIClient) -> None:
    author = UserFactory.create()
    PostFactory.create()  # someone else's
    like_some(viewer, [PostFactory.create(author=author)])

    def grow() -> None:
        like_some(viewer, [PostFactory.create(author=author) for _ in range(PAGE + 2)])

    url = f"/api/posts/?author={author.username}"
    # token, author, page, viewer's likes, attachments
    assert assert_flat(viewer_client, url, grow) == 5


def test_an_authors_pinned_posts(viewer: User, viewer_client: APIClient) -> None:
    author = UserFactory.create()
    PostFactory.create(author=author)  # not pinned

    def pin(count: int) -> None:
        for _ in range(count):
            post = PostFactory.create(author=author)
            Pin.objects.create(user=author, post=post, slot=Pin.objects.count())
            like_some(viewer, [post])

    pin(1)
    url = f"/api/posts/?author={author.username}&pinned=true&limit=2"
    # token, author, page, viewer's likes and bookmarks, attachments
    assert page_queries(viewer_client, url, 1) == 5
    pin(PINS_PER_ACCOUNT - 1)
    assert page_queries(viewer_client, url, 2) == 5


def test_an_authors_posts_with_pictures(viewer: User, viewer_client: APIClient) -> None:
    author = UserFactory.create()
    like_some(viewer, [PostFactory.create(author=author)])  # one with pictures

    def grow() -> None:
        like_some(viewer, [PostFactory.create(author=author) for _ in range(3 * PAGE)])

    url = f"/api/posts/?author={author.username}&only_media=true"
    # token, author, page, viewer's likes, attachments
    assert assert_flat(viewer_client, url, grow) == 5


def test_post_detail(count_queries: CountQueries, viewer: User, viewer_client: APIClient) -> None:
    post = PostFactory.create()
    like_some(viewer, [post])
    answer = viewer_client.get(f"/api/posts/{post.pk}/").json()
    assert answer["liked_by_me"] is answer["bookmarked_by_me"] is True
    assert len(answer["media_attachments"]) == 1
    # token, post with author, viewer's like and bookmark, attachments
    assert count_queries(lambda: viewer_client.get(f"/api/posts/{post.pk}/")) == 4


def test_post_detail_anonymous(count_queries: CountQueries, api_client: APIClient) -> None:
    post = PostFactory.create()
    assert api_client.get(f"/api/posts/{post.pk}/").status_code == 200
    # post with author, attachments
    assert count_queries(lambda: api_client.get(f"/api/posts/{post.pk}/")) == 2


def test_bookmarks(viewer: User, viewer_client: APIClient) -> None:
    def keep(posts: list[Post]) -> None:
        like_some(viewer, posts)
        for post in posts:
            Bookmark.objects.get_or_create(user=viewer, post=post)

    keep([PostFactory.create()])

    def grow() -> None:
        keep([PostFactory.create(author=UserFactory.create()) for _ in range(PAGE + 2)])

    pinned = LIST_QUERIES["/api/me/bookmarks/"]
    assert assert_flat(viewer_client, "/api/me/bookmarks/", grow) == pinned


def test_tag_posts(viewer: User, viewer_client: APIClient) -> None:
    def tagged(count: int) -> None:
        posts = [
            post_create(author=UserFactory.create(), content=f"#cats and @{viewer.username}")
            for _ in range(count)
        ]
        like_some(viewer, posts)

    tagged(1)
    pinned = LIST_QUERIES["/api/tags/{name}/posts/"]
    assert assert_flat(viewer_client, "/api/tags/Cats/posts/", lambda: tagged(PAGE + 2)) == pinned


def test_followed_tags(viewer: User, viewer_client: APIClient) -> None:
    def follow_tags(names: range) -> None:
        for number in names:
            post_create(author=UserFactory.create(), content=f"#tag{number}")
            tag_follow_create(user=viewer, name=f"tag{number}")

    follow_tags(range(1))
    pinned = LIST_QUERIES["/api/me/tags/"]
    assert (
        assert_flat(viewer_client, "/api/me/tags/", lambda: follow_tags(range(1, PAGE + 3)))
        == pinned
    )


def test_trending_tags(count_queries: CountQueries, viewer: User, viewer_client: APIClient) -> None:
    for number in range(12):
        post_create(author=UserFactory.create(), content=f"#trend{number}")
    tag_follow_create(user=viewer, name="trend3")
    assert len(viewer_client.get("/api/trends/tags/").json()) == 10
    # token, the top tags, their histories, which of them the viewer follows
    assert count_queries(lambda: viewer_client.get("/api/trends/tags/")) == 4


def test_post_history(viewer: User, viewer_client: APIClient) -> None:
    post = post_create(author=viewer, content="original")

    def edit(count: int) -> None:
        for number in range(count):
            media = [upload_for(viewer) for _ in range(1 + number % 2)]
            content = f"version {PostEdit.objects.count()}"
            post_update(post=post, content=content, media_ids=[item.pk for item in media])

    edit(1)  # the original and one edit: take the original's place as the one item
    PostEdit.objects.filter(post=post).earliest("id").delete()
    url = f"/api/posts/{post.pk}/history/"
    pinned = LIST_QUERIES["/api/posts/{post_id}/history/"]
    assert assert_flat(viewer_client, url, lambda: edit(PAGE + 2)) == pinned


def test_comments(viewer_client: APIClient) -> None:
    post = PostFactory.create()
    CommentFactory.create(post=post)

    def grow() -> None:
        for _ in range(PAGE + 2):
            CommentFactory.create(post=post)

    url = f"/api/posts/{post.pk}/comments/"
    assert assert_flat(viewer_client, url, grow) == LIST_QUERIES["/api/posts/{post_id}/comments/"]


def test_likes(viewer_client: APIClient) -> None:
    post = PostFactory.create()
    LikeFactory.create(post=post)

    def grow() -> None:
        for _ in range(PAGE + 2):
            LikeFactory.create(post=post)

    url = f"/api/posts/{post.pk}/likes/"
    assert assert_flat(viewer_client, url, grow) == LIST_QUERIES["/api/posts/{post_id}/likes/"]


def test_reposted_by(viewer_client: APIClient) -> None:
    post = PostFactory.create()
    repost_create(user=UserFactory.create(), post=post)

    def grow() -> None:
        for _ in range(PAGE + 2):
            repost_create(user=UserFactory.create(), post=post)

    url = f"/api/posts/{post.pk}/reposted-by/"
    pinned = LIST_QUERIES["/api/posts/{post_id}/reposted-by/"]
    assert assert_flat(viewer_client, url, grow) == pinned


# --- Feed -----------------------------------------------------------------------------------


def test_feed(viewer: User, viewer_client: APIClient) -> None:
    followed = [UserFactory.create() for _ in range(3)]
    for user in followed:
        FollowFactory.create(follower=viewer, followee=user)
    PostFactory.create()  # a stranger's
    like_some(viewer, [PostFactory.create(author=followed[0])])

    def grow() -> None:
        authors = [*followed, viewer]
        like_some(viewer, [PostFactory.create(author=authors[i % 4]) for i in range(PAGE + 2)])

    assert assert_flat(viewer_client, "/api/feed/", grow) == LIST_QUERIES["/api/feed/"]


# --- Notifications --------------------------------------------------------------------------


def notify_follow(recipient: User) -> None:
    follow_create(follower=UserFactory.create(), followee=recipient)


def notify_like(recipient: User) -> None:
    like_create(user=UserFactory.create(), post=PostFactory.create(author=recipient))


def notify_comment(recipient: User) -> None:
    comment_create(
        author=UserFactory.create(), post=PostFactory.create(author=recipient), content="hi"
    )


def notify_mention(recipient: User) -> None:
    post_create(author=UserFactory.create(), content=f"Hello @{recipient.username}")


def notify_repost(recipient: User) -> None:
    repost_create(user=UserFactory.create(), post=PostFactory.create(author=recipient))


def notify_update(recipient: User) -> None:
    post = PostFactory.create(author=UserFactory.create(), content="before")
    like_create(user=recipient, post=post)
    post_update(post=post, content="after")
    post_edit_notify(edit_id=PostEdit.objects.filter(post=post).latest("id").pk)


def test_notifications_one_kind(viewer: User, viewer_client: APIClient) -> None:
    notify_like(viewer)

    def grow() -> None:
        for _ in range(PAGE + 2):
            notify_like(viewer)

    # token, page with actors, likes with their posts
    assert assert_flat(viewer_client, "/api/notifications/", grow) == 3


def test_notifications_all_kinds(viewer: User, viewer_client: APIClient) -> None:
    kinds = (
        notify_follow,
        notify_like,
        notify_comment,
        notify_mention,
        notify_update,
        notify_repost,
    )
    for notify in kinds:
        notify(viewer)
    url = "/api/notifications/"
    mixed = page_queries(viewer_client, url, len(kinds))

    for i in range(PAGE + 2):
        kinds[i % len(kinds)](viewer)
    response = viewer_client.get(url).json()["results"]
    assert {item["type"] for item in response} == {
        "follow",
        "like",
        "comment",
        "mention",
        "update",
        "repost",
    }
    full = page_queries(viewer_client, url, PAGE)
    assert mixed == full == LIST_QUERIES["/api/notifications/"]


def test_notifications_unread_filter(viewer: User, viewer_client: APIClient) -> None:
    for notify in (notify_follow, notify_like, notify_comment):
        notify(viewer)
    assert page_queries(viewer_client, "/api/notifications/?unread=true", 3) == 5


def test_unread_count(count_queries: CountQueries, viewer: User, viewer_client: APIClient) -> None:
    for _ in range(3):
        notify_follow(viewer)
    assert viewer_client.get("/api/notifications/unread-count/").json() == {"count": 3}
    # token, count
    assert count_queries(lambda: viewer_client.get("/api/notifications/unread-count/")) == 2


# --- Every list is pinned -------------------------------------------------------------------


def test_every_list_route_has_a_pinned_query_count(api_client: APIClient) -> None:
    """A new list (a GET answering a page) must join LIST_QUERIES, and every entry there must
    be asserted by a test: a list nobody counts is where an N+1 would hide."""
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    lists = {
        path
        for path, item in schema["paths"].items()
        if "get" in item
        and "Paginated"
        in item["get"]["responses"]["200"]["content"]["application/json"]["schema"].get("$ref", "")
    }
    assert lists == set(LIST_QUERIES)
    sources = "".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    unasserted = [route for route in LIST_QUERIES if f'LIST_QUERIES["{route}"]' not in sources]
    assert not unasserted, f"no test asserts these pinned counts: {unasserted}"
