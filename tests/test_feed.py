"""The home feed: whose posts, in which order, and pages that new posts do not shift."""

import base64
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.posts.models import Post
from tests.factories import FollowFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def ids(body: dict[str, Any]) -> list[str]:
    return [post["id"] for post in body["results"]]


def walk(client: APIClient, url: str) -> list[list[str]]:
    """Every page's ids, following `next` to the end."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(ids(body))
        next_url = body["next"]
        assert len(pages) < 50, "pagination does not end"
    return pages


def test_feed_has_followed_and_own_posts_but_not_others(make_client: MakeClient) -> None:
    viewer, followed, stranger, follower_of_viewer = (UserFactory.create() for _ in range(4))
    FollowFactory.create(follower=viewer, followee=followed)
    FollowFactory.create(follower=follower_of_viewer, followee=viewer)  # the reverse direction
    expected = [
        PostFactory.create(author=followed),
        PostFactory.create(author=viewer),
        PostFactory.create(author=followed),
    ]
    PostFactory.create(author=stranger)
    PostFactory.create(author=follower_of_viewer)

    response = make_client(viewer).get("/api/feed/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert ids(body) == [str(post.pk) for post in reversed(expected)]
    assert body["results"][0]["author"]["username"] == followed.username


def test_feed_with_nothing_is_empty(make_client: MakeClient) -> None:
    PostFactory.create()
    body = make_client(UserFactory.create()).get("/api/feed/").json()
    assert body == {"next": None, "previous": None, "results": []}


def test_feed_through_the_api(make_client: MakeClient) -> None:
    viewer, followed = UserFactory.create(), UserFactory.create()
    viewer_client, followed_client = make_client(viewer), make_client(followed)
    assert viewer_client.post(f"/api/users/{followed.username}/follow/").status_code == 201
    made = followed_client.post("/api/posts/", {"title": "news", "content": "x"}, format="json")
    results = viewer_client.get("/api/feed/").json()["results"]
    assert [post["id"] for post in results] == [made.json()["id"]]
    assert results[0]["liked_by_me"] is False


def test_feed_anonymous_is_401(api_client: APIClient) -> None:
    response = api_client.get("/api/feed/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_feed_walks_every_page_exactly_once_in_order(make_client: MakeClient) -> None:
    viewer, first, second = UserFactory.create(), UserFactory.create(), UserFactory.create()
    FollowFactory.create(follower=viewer, followee=first)
    FollowFactory.create(follower=viewer, followee=second)
    authors = [first, second, viewer]
    posts = [PostFactory.create(author=authors[i % 3]) for i in range(23)]
    PostFactory.create_batch(3)  # strangers

    pages = walk(make_client(viewer), "/api/feed/?limit=5")
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [post_id for page in pages for post_id in page] == [
        str(post.pk) for post in reversed(posts)
    ]


def test_feed_default_page_is_20_and_limit_capped(make_client: MakeClient) -> None:
    viewer = UserFactory.create()
    Post.objects.bulk_create(Post(author=viewer, title=f"p{i}", content="x") for i in range(101))
    client = make_client(viewer)
    assert len(client.get("/api/feed/").json()["results"]) == 20
    assert len(client.get("/api/feed/?limit=500").json()["results"]) == 100


def test_new_posts_do_not_shift_later_pages(make_client: MakeClient) -> None:
    viewer, followed = UserFactory.create(), UserFactory.create()
    FollowFactory.create(follower=viewer, followee=followed)
    posts = [PostFactory.create(author=followed) for _ in range(12)]
    newest_first = [str(post.pk) for post in reversed(posts)]
    client = make_client(viewer)

    page_one = client.get("/api/feed/?limit=5").json()
    assert ids(page_one) == newest_first[:5]

    # New posts arrive, by the followed account and by the viewer, while page 1 is read.
    fresh = [PostFactory.create(author=followed), PostFactory.create(author=viewer)]

    page_two = client.get(page_one["next"]).json()
    assert ids(page_two) == newest_first[5:10]
    page_three = client.get(page_two["next"]).json()
    assert ids(page_three) == newest_first[10:]
    assert page_three["next"] is None

    # The newcomers appear at the top of a fresh first page.
    assert ids(client.get("/api/feed/?limit=5").json())[:2] == [
        str(post.pk) for post in reversed(fresh)
    ]


def test_previous_link_goes_back(make_client: MakeClient) -> None:
    viewer = UserFactory.create()
    posts = [PostFactory.create(author=viewer) for _ in range(6)]
    newest_first = [str(post.pk) for post in reversed(posts)]
    client = make_client(viewer)
    page_one = client.get("/api/feed/?limit=3").json()
    page_two = client.get(page_one["next"]).json()
    assert ids(page_two) == newest_first[3:]
    assert page_two["previous"]
    assert ids(client.get(page_two["previous"]).json()) == newest_first[:3]


def test_unfollowing_removes_that_authors_posts(make_client: MakeClient) -> None:
    viewer, kept, dropped = UserFactory.create(), UserFactory.create(), UserFactory.create()
    client = make_client(viewer)
    client.post(f"/api/users/{kept.username}/follow/")
    client.post(f"/api/users/{dropped.username}/follow/")
    kept_post, dropped_post = PostFactory.create(author=kept), PostFactory.create(author=dropped)
    assert set(ids(client.get("/api/feed/").json())) == {str(kept_post.pk), str(dropped_post.pk)}

    assert client.delete(f"/api/users/{dropped.username}/follow/").status_code == 204
    assert ids(client.get("/api/feed/").json()) == [str(kept_post.pk)]


def test_feed_drops_deleted_posts(make_client: MakeClient) -> None:
    viewer = UserFactory.create()
    client = make_client(viewer)
    made = client.post("/api/posts/", {"title": "t", "content": "c"}, format="json").json()
    client.delete(f"/api/posts/{made['id']}/")
    assert client.get("/api/feed/").json()["results"] == []


def encode_cursor(querystring: str) -> str:
    # DRF's cursor format: the base64 of a small query string (o=offset, r=reverse, p=position).
    return base64.b64encode(querystring.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%garbage",
        encode_cursor("o=0&r=0&p=not-a-number"),
        encode_cursor("o=0&r=0&p=99999999999999999999999"),
        encode_cursor("o=0&r=0&p=-5"),
        encode_cursor("o=100000000&r=0&p=5"),
        encode_cursor("o=100000000&r=0"),
    ],
)
def test_bad_cursor_is_400_not_500(make_client: MakeClient, cursor: str) -> None:
    viewer = UserFactory.create()
    PostFactory.create(author=viewer)
    response = make_client(viewer).get("/api/feed/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]
