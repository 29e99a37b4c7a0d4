"""The Redis timelines as the distributed mode keeps them, and the feed they must equal."""

import redis
from django.db.models import Q
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.feed.timelines import SENTINEL
from plaza.posts.models import Post, Visibility


def timeline_ids(client: redis.Redis, user: User) -> list[int]:
    members: list[bytes] = client.zrevrange(f"plaza:timeline:{user.pk}", 0, -1)  # type: ignore[assignment]
    return [int(member) for member in members if member != SENTINEL.encode()]


def walk_feed(client: APIClient, limit: int) -> list[int]:
    """Every post id of the feed, following `next` links page by page."""
    ids: list[int] = []
    url: str | None = f"/api/feed/?limit={limit}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        ids.extend(int(post["id"]) for post in response.json()["results"])
        url = response.json()["next"]
    return ids


def expected_feed(viewer: User) -> list[int]:
    """The feed by definition, straight from the database (for viewers who mute and block
    nobody): the posts of the accounts they follow but their direct ones, all their own, and
    public posts of public accounts with a tag they follow."""
    followees = viewer.following_set.values_list("followee_id", flat=True)
    tagged = Post.objects.filter(
        tag_links__tag__follows__user=viewer,
        visibility=Visibility.PUBLIC,
        author__is_private=False,
    ).values_list("id", flat=True)
    followed = Post.objects.filter(
        (Q(author_id__in=followees) & ~Q(visibility=Visibility.DIRECT)) | Q(author_id=viewer.pk)
    ).values_list("id", flat=True)
    return sorted({*followed, *tagged}, reverse=True)
