"""The home feed."""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.posts.models import Post
from plaza.posts.selectors import posts_by_ids


def feed_post_ids(viewer: User) -> QuerySet[Post, Any]:
    """Ids of the posts by the accounts `viewer` follows and by `viewer`, newest first, as
    ``{"id": ...}`` rows for the keyset paginator.

    Only ids are selected, so each followed author's posts are read from the covering
    (author, id) index and never from the table: the page's 20 ids are picked before any
    post body is touched. Bodies are loaded afterwards for those 20 alone (`feed_page`).
    The authors are one `IN (subquery)`: an `author IN (...) OR author = viewer` instead makes
    SQLite merge two index scans and sort every candidate row (measured 2.9 ms vs 0.5 ms on
    20,000 posts). Post ids are time-sortable, so the keyset is the primary key alone and a
    deep page costs what the first one does.
    """
    authors = (
        Follow.objects.filter(follower=viewer)
        .values("followee_id")
        .union(User.objects.filter(pk=viewer.pk).values("id"), all=True)
    )
    return Post.objects.filter(author_id__in=authors).values("id")


def feed_page(rows: Sequence[dict[str, int]]) -> list[Post]:
    """The posts of one page of `feed_post_ids`, in the page's order, authors loaded."""
    return posts_by_ids([row["id"] for row in rows])
