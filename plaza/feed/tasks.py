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
from plaza.graph.models import Follow, Mute
from plaza.posts.models import Post
from plaza.posts.representations import new_post_data
from plaza.posts.selectors import posts_by_ids

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


@shared_task(autoretry_for=(redis.RedisError,), retry_backoff=True, max_retries=5)
def fan_out_post(post_id: int) -> int:
    """Add a new post to its author's timeline and its followers' (those that exist, less
    those who mute the author), unless the author is too large to fan out: their posts are
    merged in at read time instead. Returns how many timelines were offered the post."""
    store = timeline_store()
    post = Post.objects.filter(pk=post_id).values("author_id", "author__followers_count").first()
    if store is None or post is None:
        return 0
    author_id = post["author_id"]
    store.push([author_id], post_id)
    if post["author__followers_count"] >= settings.FEED_FANOUT_MAX_FOLLOWERS:
        return 1
    offered = 1
    for batch in _follower_batches(author_id, except_muters=True):
        store.push(batch, post_id)
        offered += len(batch)
    return offered


@shared_task(autoretry_for=(redis.RedisError,), retry_backoff=True, max_retries=5)
def remove_post_from_timelines(post_id: int, author_id: int) -> None:
    """A deleted post leaves every timeline it was fanned out to."""
    store = timeline_store()
    if store is None:
        return
    store.remove([author_id], post_id)
    for batch in _follower_batches(author_id):
        store.remove(batch, post_id)


@shared_task(ignore_result=True)
def publish_post_to_followers(post_id: int) -> None:
    """Send `feed.post` to the connected followers of the post's author who do not mute them
    (and the author's own sessions: their feed shows their posts too). Works from who is
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
    for start in range(0, len(online), ONLINE_BATCH):
        batch = online[start : start + ONLINE_BATCH]
        recipients += (
            Follow.objects.filter(followee_id=post.author_id, follower_id__in=batch)
            .exclude(follower_id__in=muters)
            .values_list("follower_id", flat=True)
        )
    if recipients:
        # Rendered once for all recipients: a post seconds old, liked by none of them.
        data = new_post_data(post)
        publish(recipients, FEED_POST, data, event_id=str(post.pk))
