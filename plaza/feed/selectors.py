"""The home feed.

Two ways to find a page's post ids, one way to load them:

* embedded default: one indexed query per page (`feed_post_ids`);
* distributed mode (`FEED_TIMELINES`, on with `REDIS_URL`): the viewer's timeline in Redis,
  filled on write by fan-out (plaza.feed.tasks), merged at read time with the posts of the
  very large accounts that are not fanned out, and continued from SQL past the end of the
  cached window. A missing timeline is rebuilt from SQL; with Redis unreachable, SQL answers.

Either way `feed_page` then loads the page's posts by primary key.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from plaza.accounts.models import User
from plaza.core.rawsql import table
from plaza.feed.timelines import TimelineStore, timeline_store
from plaza.graph.models import Follow, Mute
from plaza.graph.selectors import HIDDEN_USER_IDS_SQL
from plaza.posts.models import Post, Visibility
from plaza.posts.selectors import posts_by_ids
from plaza.tags.models import PostTag, TagFollow

logger = logging.getLogger(__name__)


def _followed(viewer: User) -> QuerySet[Follow]:
    """The viewer's follows of accounts they do not mute. (Blocked accounts are never
    followed: a block removes the follows between the two, and none can be made while it
    stands; see plaza.graph.services.)"""
    follows = Follow.objects.filter(follower=viewer)
    if viewer.muting_count:
        follows = follows.exclude(
            followee_id__in=Mute.objects.filter(muter=viewer).values("muted_id")
        )
    return follows


def _followed_author_ids(viewer: User) -> QuerySet[Any, Any]:
    """The viewer and the accounts they follow and do not mute, as a subquery."""
    return (
        _followed(viewer)
        .values("followee_id")
        .union(User.objects.filter(pk=viewer.pk).values("id"), all=True)
    )


# The feed holds the followed accounts' posts but their direct ones (those reach the
# accounts they mention by notification), all of the viewer's own, and public posts alone
# through a followed tag: `readable_by` (plaza.posts.selectors) for these readers.
_DIRECT, _PUBLIC = Visibility.DIRECT.value, Visibility.PUBLIC.value
# PostgreSQL: the followed accounts' ids are read once into an array, then the posts'
# (author, id) index once for each of them and for the viewer. `IN (subquery)` there is
# planned as a semi join that walks the posts' primary key backwards and compares each row
# with every followed account (300 ms for a viewer following 1,000 on the large data set).
_FEED_POST_IDS_BY_AUTHORS = f"""
    (SELECT p.id FROM {table(Post)} p
    WHERE p.author_id = ANY(ARRAY({{followed}}))
    AND (p.visibility <> '{_DIRECT}' OR p.author_id = %s) {{bounds}}
    ORDER BY p.id {{order}} LIMIT %s)
    UNION ALL ({{tagged}})
    ORDER BY 1 {{order}} LIMIT %s
"""  # noqa: S608 - names from _meta
_FOLLOWED_AND_SELF = (
    f"SELECT f.followee_id FROM {table(Follow)} f WHERE f.follower_id = %s{{unmuted}}"  # noqa: S608 - names from _meta
    " UNION ALL SELECT %s"
)
# SQLite: the follows joined to the posts' (author, id) index, and the viewer's own posts as a
# second arm that SQLite merges with the first in order. The `IN (subquery)` form cost 0.61 ms
# against 0.46 (viewer following 1,000, large data set): SQLite first copies the followed ids
# into a temporary index, then reads it to seek the posts.
_FEED_POST_IDS_JOINED = f"""
    SELECT p.id FROM {table(Follow)} f INNER JOIN {table(Post)} p ON p.author_id = f.followee_id
    WHERE f.follower_id = %s{{unmuted}} AND p.visibility <> '{_DIRECT}' {{bounds}}
    UNION ALL
    SELECT p.id FROM {table(Post)} p WHERE p.author_id = %s {{bounds}}
    UNION ALL
    SELECT * FROM ({{tagged}})
    ORDER BY 1 {{order}} LIMIT %s
"""  # noqa: S608 - names from _meta
# The public posts that use a tag the viewer follows, by accounts the arms above do not cover
# (not the viewer, not followed), each once, the page's worth nearest the cursor. Parameters:
# the viewer's id three times, then the hidden accounts' (three times, with {hidden}), the
# bounds and the count. For a viewer who follows no tag it is one empty range of the tag
# follows' (user, tag) index.
_FOLLOWED_TAGS_POST_IDS = f"""
    SELECT DISTINCT p.id FROM {table(TagFollow)} tf
    INNER JOIN {table(PostTag)} pt ON pt.tag_id = tf.tag_id
    INNER JOIN {table(Post)} p ON p.id = pt.post_id
    INNER JOIN {table(User)} u ON u.id = p.author_id
    WHERE tf.user_id = %s AND p.visibility = '{_PUBLIC}' AND NOT u.is_private
    AND p.author_id <> %s
    AND p.author_id NOT IN (
        SELECT tff.followee_id FROM {table(Follow)} tff WHERE tff.follower_id = %s
    )
    {{hidden}} {{bounds}}
    ORDER BY p.id {{order}} LIMIT %s
"""  # noqa: S608 - names from _meta
_TAGGED_NOT_HIDDEN = f"AND p.author_id NOT IN ({HIDDEN_USER_IDS_SQL})"
# Muted accounts stay followed but leave the feed: they are taken out of the follows, once
# per page (an uncorrelated subquery on the mute pair's index), not post by post. Only
# for viewers who mute someone (`User.muting_count`, loaded with the token): the check costs
# ~40 µs per page for a viewer following 1,000 accounts (bench data set, SQLite), which the
# many who mute nobody do not pay.
_UNMUTED = (
    f" AND f.followee_id NOT IN (SELECT m.muted_id FROM {table(Mute)} m WHERE m.muter_id = %s)"  # noqa: S608 - names from _meta
)


def feed_post_ids(
    viewer: User,
    *,
    count: int,
    below: int | None = None,
    above: int | None = None,
    newest_first: bool = True,
) -> list[int]:
    """Ids of up to `count` posts by the accounts `viewer` follows (less those they mute, and
    less their direct posts), by `viewer`, and public posts with a tag `viewer` follows
    (less those of accounts the viewer mutes, blocks or is blocked by), between the `below`
    and `above` bounds (exclusive), newest first unless `newest_first` is false.

    Only ids are selected, so each followed author's posts are read from the covering
    (author, id, visibility) index and never from the table: the page's 20 ids are picked before any
    post body is touched. Bodies are loaded afterwards for those 20 alone (`feed_page`).
    Each database gets the statement it plans best (`_FEED_POST_IDS_BY_AUTHORS` on
    PostgreSQL, `_FEED_POST_IDS_JOINED` elsewhere); on SQLite an `author IN (...) OR author =
    viewer` instead merges two index scans and sorts every candidate row (measured 2.9 ms vs
    0.5 ms on 20,000 posts). Post ids are time-sortable, so the keyset is the primary key
    alone and a deep page costs what the first one does. Every feed page runs this: SQL
    rather than ORM (1.6 ms to build and run through the ORM, 0.6 ms as SQL; see
    plaza.core.rawsql).
    """
    muting = bool(viewer.muting_count)
    unmuted = _UNMUTED if muting else ""
    follower = [viewer.pk, viewer.pk] if muting else [viewer.pk]
    conditions, bounds = [], []
    if below is not None:
        conditions.append("AND p.id < %s")
        bounds.append(below)
    if above is not None:
        conditions.append("AND p.id > %s")
        bounds.append(above)
    order = "DESC" if newest_first else "ASC"
    tagged, tagged_params = _followed_tags_statement(viewer, conditions, bounds, order, count)
    if connection.vendor == "postgresql":
        sql = _FEED_POST_IDS_BY_AUTHORS.format(
            followed=_FOLLOWED_AND_SELF.format(unmuted=unmuted),
            bounds=" ".join(conditions),
            order=order,
            tagged=tagged,
        )
        params = [*follower, viewer.pk, viewer.pk, *bounds, count, *tagged_params, count]
    else:
        sql = _FEED_POST_IDS_JOINED.format(
            unmuted=unmuted, bounds=" ".join(conditions), order=order, tagged=tagged
        )
        params = [*follower, *bounds, viewer.pk, *bounds, *tagged_params, count]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [found for (found,) in cursor.fetchall()]


def _followed_tags_statement(
    viewer: User, conditions: list[str], bounds: list[int], order: str, count: int
) -> tuple[str, list[int]]:
    hiding = viewer.hides_anyone
    sql = _FOLLOWED_TAGS_POST_IDS.format(
        hidden=_TAGGED_NOT_HIDDEN if hiding else "", bounds=" ".join(conditions), order=order
    )
    hidden = [viewer.pk] * 3 if hiding else []
    return sql, [viewer.pk, viewer.pk, viewer.pk, *hidden, *bounds, count]


def followed_tags_post_ids(viewer: User, *, count: int, above: int | None = None) -> list[int]:
    """Ids of up to `count` of the newest public posts, above `above`, that use a tag the
    viewer follows and that the rest of their feed does not hold (the feed's third arm)."""
    conditions, bounds = ([], []) if above is None else (["AND p.id > %s"], [above])
    sql, params = _followed_tags_statement(viewer, conditions, bounds, "DESC", count)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [found for (found,) in cursor.fetchall()]


def _ids_below(queryset: QuerySet[Post, Any], before: int | None, count: int) -> list[int]:
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    return [row["id"] for row in queryset.order_by("-id")[:count]]


def _large_followee_ids(viewer: User) -> list[int]:
    """The followed accounts too large to fan out: their posts are merged in at read time."""
    return list(
        _followed(viewer)
        .filter(followee__followers_count__gte=settings.FEED_FANOUT_MAX_FOLLOWERS)
        .values_list("followee_id", flat=True)
    )


def _rebuild_timeline(store: TimelineStore, viewer: User) -> tuple[list[int], list[int]]:
    large = _large_followee_ids(viewer)
    fanned_out = (
        Post.objects.filter(author_id__in=_followed_author_ids(viewer))
        .exclude(author_id__in=large)
        .exclude(Q(visibility=Visibility.DIRECT) & ~Q(author_id=viewer.pk))
        .values("id")
    )
    tagged = followed_tags_post_ids(viewer, count=store.size)
    newest = sorted({*_ids_below(fanned_out, None, store.size), *tagged}, reverse=True)
    newest = newest[: store.size]
    store.build(viewer.pk, newest, large)
    # A post published between that query and the build was pushed to no timeline (there was
    # none yet): add whatever is newer than what the build saw.
    since = newest[0] if newest else 0
    later = [row["id"] for row in fanned_out.filter(id__gt=since)]
    store.add(viewer.pk, [*later, *followed_tags_post_ids(viewer, count=store.size, above=since)])
    return newest, large


def _timeline_ids(store: TimelineStore, viewer: User, before: int | None, count: int) -> list[int]:
    """`count` feed ids below `before`: the timeline's, the large accounts' (merged), and past
    the end of the cached window the database's."""
    found = store.read(viewer.pk, before=before, count=count)
    if found is None:
        newest, large = _rebuild_timeline(store, viewer)
        cached = [post_id for post_id in newest if before is None or post_id < before][:count]
    else:
        cached, remembered = found
        if remembered is None:
            remembered = _large_followee_ids(viewer)
            store.remember_large(viewer.pk, remembered)
        large = remembered
    ids = set(cached)
    if len(cached) < count:
        # Past the end of the cached window (or of the feed): the database continues it below
        # the window's last id, large accounts included.
        boundary = min(cached) if cached else before
        ids |= set(feed_post_ids(viewer, below=boundary, count=count))
    if large and cached:
        # Between the cursor and the window's last id only the large accounts are missing.
        large_posts = (
            Post.objects.filter(author_id__in=large)
            .exclude(visibility=Visibility.DIRECT)
            .values("id")
        )
        ids |= set(_ids_below(large_posts, before, count))
    return sorted(ids, reverse=True)[:count]


@dataclass(frozen=True)
class FeedIds:
    """The viewer's feed ids, shaped like the part of a QuerySet that DRF's CursorPagination
    uses (`order_by`, `filter(id__lt=/id__gt=)`, slicing to `{"id": ...}` rows), so the same
    paginator, cursors and links serve both ways of finding them.

    With a timeline store (distributed mode), newest-first pages come from the timeline and
    "previous" (newer-than) pages, rare, from SQL; without one, every page from SQL.
    """

    viewer: User
    store: TimelineStore | None = None
    newest_first: bool = True
    below: int | None = None
    above: int | None = None

    def order_by(self, *fields: str) -> "FeedIds":
        return replace(self, newest_first=fields[0].startswith("-"))

    def filter(self, **lookups: int | str) -> "FeedIds":
        # The paginator passes the cursor's position as it decoded it: a string of digits.
        below, above = lookups.get("id__lt"), lookups.get("id__gt")
        return replace(
            self,
            below=self.below if below is None else int(below),
            above=self.above if above is None else int(above),
        )

    def __getitem__(self, window: slice) -> list[dict[str, int]]:
        start, stop = window.start or 0, window.stop
        if stop is None:
            raise TypeError("FeedIds only serves bounded slices.")
        if self.store is not None and self.newest_first and self.above is None:
            try:
                ids = _timeline_ids(self.store, self.viewer, self.below, stop)
                return [{"id": post_id} for post_id in ids[start:stop]]
            except redis.RedisError:
                logger.warning("Redis unavailable: serving the feed from the database")
        ids = feed_post_ids(
            self.viewer,
            count=stop,
            below=self.below,
            above=self.above,
            newest_first=self.newest_first,
        )
        return [{"id": post_id} for post_id in ids[start:]]


def feed_ids(viewer: User) -> FeedIds:
    """What the feed view paginates: the viewer's timeline in the distributed mode, the
    indexed query otherwise."""
    return FeedIds(viewer=viewer, store=timeline_store())


def feed_page(feed: FeedIds, rows: Sequence[dict[str, int]]) -> list[Post]:
    """The posts of one page of `feed` (from `feed_ids`), in the page's order, authors loaded.

    From a Redis timeline, posts by accounts the viewer mutes, blocks or is blocked by are
    left out here too, in the same statement: a fan-out already under way when the viewer
    muted or blocked its author can push the post into the timeline rebuilt after it. Such a
    page is then a post short, never wrong. Ids found by SQL never hold such posts (muted
    accounts are left out of the query, blocked ones are never followed), so the common case
    pays nothing for it."""
    hidden_for = feed.viewer if feed.store is not None else None
    return posts_by_ids([row["id"] for row in rows], hidden_for=hidden_for)
