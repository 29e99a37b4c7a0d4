"""What the feed must hear about other writes. Each function is called by the service that
owns the write, inside its transaction, and acts only once that transaction commits."""

import logging
from functools import partial

import redis
from django.db import transaction

from plaza.core.tasks import queue_after_commit
from plaza.feed import tasks
from plaza.feed.timelines import timeline_store

logger = logging.getLogger(__name__)

# What an operator does when a timeline task could not be queued (the broker was down).
_TIMELINES_MISS_IT = "timelines miss it: run `manage.py drop_timelines` once Redis is back"


def post_published(post_id: int) -> None:
    """A new post: into its author's followers' timelines (distributed mode), and to those
    of them who are connected, the live `feed.post` event."""
    if timeline_store() is not None:
        queue_after_commit(tasks.fan_out_post, post_id, if_lost=_TIMELINES_MISS_IT)
    queue_after_commit(
        tasks.publish_post_to_followers, post_id, if_lost="the live `feed.post` is skipped"
    )


def post_removed(post_id: int, author_id: int, tag_ids: list[int]) -> None:
    """A deleted post leaves the timelines it was fanned out to: its author's followers' and
    those of the followers of `tag_ids`, the tags it used (read before it was deleted)."""
    if timeline_store() is not None:
        queue_after_commit(
            tasks.remove_post_from_timelines,
            post_id,
            author_id,
            tag_ids,
            if_lost=_TIMELINES_MISS_IT,
        )


def _drop_timeline(user_id: int) -> None:
    store = timeline_store()
    if store is None:
        return
    try:
        store.drop(user_id)
    except redis.RedisError:
        logger.warning("Redis unavailable: timeline of user %s not invalidated", user_id)


def following_changed(follower_id: int) -> None:
    """Someone followed or unfollowed an account or a tag: their timeline is rebuilt on their
    next read, with or without its posts."""
    if timeline_store() is not None:
        transaction.on_commit(partial(_drop_timeline, follower_id))


def hidden_authors_changed(user_id: int) -> None:
    """Someone muted or unmuted an account: their timeline is rebuilt on their next read,
    without or with that account's posts (fan-out skips muters from then on)."""
    if timeline_store() is not None:
        transaction.on_commit(partial(_drop_timeline, user_id))
