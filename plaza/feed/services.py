"""What the feed must hear about other writes. Each function is called by the service that
owns the write, inside its transaction, and acts only once that transaction commits."""

import logging
from functools import partial

import redis
from celery import Task
from django.db import transaction

from plaza.feed import tasks
from plaza.feed.timelines import timeline_store

logger = logging.getLogger(__name__)


def _enqueue(task: Task, *args: int) -> None:
    try:
        task.delay(*args)
    except Exception:  # the broker (Redis) is down: kombu raises its own OperationalError
        # The post is safe in the database, but timelines miss it until rebuilt: say so.
        logger.exception(
            "Could not queue %s%s; run `manage.py drop_timelines` once Redis is back",
            task.name,
            args,
        )


def post_published(post_id: int) -> None:
    if timeline_store() is not None:
        transaction.on_commit(partial(_enqueue, tasks.fan_out_post, post_id))


def post_removed(post_id: int, author_id: int) -> None:
    if timeline_store() is not None:
        transaction.on_commit(
            partial(_enqueue, tasks.remove_post_from_timelines, post_id, author_id)
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
    """Someone followed or unfollowed: their timeline is rebuilt on their next read, with or
    without that account's posts."""
    if timeline_store() is not None:
        transaction.on_commit(partial(_drop_timeline, follower_id))


def hidden_authors_changed(user_id: int) -> None:
    """Someone muted or unmuted an account: their timeline is rebuilt on their next read,
    without or with that account's posts (fan-out skips muters from then on)."""
    if timeline_store() is not None:
        transaction.on_commit(partial(_drop_timeline, user_id))
