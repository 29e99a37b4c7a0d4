"""Queueing background tasks from services."""

import logging
from functools import partial
from typing import Any

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def _queue(task: Task, *args: Any) -> None:
    try:
        task.delay(*args)
    except Exception:  # kombu's OperationalError, or the task's own error in eager mode
        logger.exception("Could not run %s%s", task.name, args)


def queue_after_commit(task: Task, *args: Any) -> None:
    """Queue a background task once the current transaction commits. A broker that is down
    loses that task (logged), never the write that asked for it."""
    transaction.on_commit(partial(_queue, task, *args))
