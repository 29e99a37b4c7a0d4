"""Background work of the feed: fan-out on write and removal on delete (distributed mode),
and the live `feed.post` event to connected followers (every mode).

The timeline tasks load only ids and talk to Redis; each is idempotent (adding or removing
the same id twice changes nothing), so Celery may retry them safely.
"""

import logging
from collections.abc import Iterator

import redis
from celery import shared_task
from django.conf import settings

from plaza.core.events import publish
from plaza.core.presence import presence
from plaza.feed.timelines import timeline_store
from plaza.graph.models import Block, Follow, Mute
from plaza.posts.models import Post, Visibility
from plaza.posts.representations import new_post_data
from plaza.posts.selectors import posts_by_ids
from plaza.tags.models import PostTag, TagFollow

logger = logging.getLogger(__name__)

FEED_POST = "feed.post"
# Online users checked against the author's followers per query.
ONLINE_BATCH = 1000


def _follower_batches(author_id: int, *, except_muters: bool = False) -> Iterator[list[int]]:
    size = settings.FEED_FANOUT_BATCH_SIZE
    follows = Follow.objects.filter(followee_id=author_id)
    if except_muters:
        # Followers who mute the author keep following but read none of their posts (and a
        # mute drops the muter's timeline, so older ones leave it too).
        follows = follows.exclude(
            follower_id__in=Mute.objects.filter(muted_id=author_id).values("muter_id")
        )
    follower_ids = (
        follows.order_by().values_list("follower_id", flat=True).iterator(chunk_size=size)
    )
    batch: list[int] = []
    for follower_id in follower_ids:
        batch.append(follower_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _tag_followers(
    tag_ids: list[int], author_id: int, *, among: list[int] | None = None
) -> list[int]:
    """Who follows any of these tags and may read the author's public posts there: not the
    author, nobody who mutes them, nobody they block or who blocks them (`among` narrows it
    to those users)."""
    if not tag_ids:
        return []
    follows = TagFollow.objects.filter(tag_id__in=tag_ids).exclude(user_id=author_id)
    if among is not None:
        follows = follows.filter(user_id__in=among)
    follows = follows.exclude(
        user_id__in=Mute.objects.filter(muted_id=author_id).values("muter_id")
    ).exclude(user_id__in=Block.objects.filter(blocker_id=author_id).values("blocked_id"))
    follows = follows.exclude(
        user_id__in=Block.objects.filter(blocked_id=author_id).values("blocker_id")
    )
    return list(follows.order_by().values_list("user_id", flat=True).distinct())


def _listed_tag_ids(post_id: int, visibility: str, author_is_private: bool) -> list[int]:
    """The tags through which the post reaches feeds: those of a public post by a public
    account; none for any other."""
    if visibility != Visibility.PUBLIC or author_is_private:
        return []
    return list(PostTag.objects.filter(post_id=post_id).values_list("tag_id", flat=True))


@shared_task(autoretry_for=(redis.RedisError,), retry_backoff=True, max_retries=5)
def fan_out_post(post_id: int) -> int:
    """Add a new post to its author's timeline and its followers' (those that exist, less
    those who mute the author), unless the author is too large to fan out: their posts are
    merged in at read time instead; and, if the post is public and its author too, to the
    timelines of those who follow one of its tags (whatever the author's size: those are not
    the author's followers). A direct post goes to its author's timeline alone. Returns how
    many timelines were offered the post."""
    store = timeline_store()
    post = (
        Post.objects.filter(pk=post_id)
        .values("author_id", "author__followers_count", "author__is_private", "visibility")
        .first()
    )
    if store is None or post is None:
        return 0
    author_id = post["author_id"]
    tag_ids = _listed_tag_ids(post_id, post["visibility"], post["author__is_private"])
    store.push([author_id], post_id)
    offered = 1
    if post["visibility"] == Visibility.DIRECT:
        return offered
    if post["author__followers_count"] < settings.FEED_FANOUT_MAX_FOLLOWERS:
        for batch in _follower_batches(author_id, except_muters=True):
            store.push(batch, post_id)
            offered += len(batch)
    tag_followers = _tag_followers(tag_ids, author_id)
    for start in range(0, len(tag_followers), settings.FEED_FANOUT_BATCH_SIZE):
        batch = tag_followers[start : start + settings.FEED_FANOUT_BATCH_SIZE]
        store.push(batch, post_id)
        offered += len(batch)
    return offered


@shared_task(autoretry_for=(redis.RedisError,), retry_backoff=True, max_retries=5)
def remove_post_from_timelines(
    post_id: int, author_id: int, tag_ids: list[int] | None = None
) -> None:
    """A deleted post leaves every timeline it was fanned out to: its author's followers' and
    those of the followers of the tags it used (`tag_ids`, read before it was deleted)."""
    store = timeline_store()
    if store is None:
        return
    store.remove([author_id], post_id)
    for batch in _follower_batches(author_id):
        store.remove(batch, post_id)
    tag_followers = list(
        TagFollow.objects.filter(tag_id__in=tag_ids or []).values_list("user_id", flat=True)
    )
    for start in range(0, len(tag_followers), settings.FEED_FANOUT_BATCH_SIZE):
        store.remove(tag_followers[start : start + settings.FEED_FANOUT_BATCH_SIZE], post_id)


@shared_task(ignore_result=True)
def publish_post_to_followers(post_id: int) -> None:
    """Send `feed.post` to the connected followers of the post's author who do not mute them
    (and the author's own sessions: their feed shows their posts too; a direct post goes to
    those alone), and to those whose feed has it through a followed tag. Works from who is
    online rather than from the followers, so an account with 75,000 followers costs what
    the online users do."""
    online = presence().online()
    if not online:  # nobody to tell: not even worth loading the post
        return
    posts = posts_by_ids([post_id])
    if not posts:  # deleted meanwhile
        return
    post = posts[0]
    recipients = [post.author_id] if post.author_id in online else []
    # Followers who mute the author do not get it: their feed does not show it either.
    muters = Mute.objects.filter(muted_id=post.author_id).values("muter_id")
    tag_ids = _listed_tag_ids(post.pk, post.visibility, post.author.is_private)
    direct = post.visibility == Visibility.DIRECT
    for start in range(0, 0 if direct else len(online), ONLINE_BATCH):
        batch = online[start : start + ONLINE_BATCH]
        recipients += (
            Follow.objects.filter(followee_id=post.author_id, follower_id__in=batch)
            .exclude(follower_id__in=muters)
            .values_list("follower_id", flat=True)
        )
        # Those whose feed has it through a tag they follow.
        recipients += _tag_followers(tag_ids, post.author_id, among=batch)
    recipients = list(dict.fromkeys(recipients))
    if recipients:
        # Rendered once for all recipients: a post seconds old, liked by none of them.
        data = new_post_data(post)
        publish(recipients, FEED_POST, data, event_id=str(post.pk))
