"""Queueing background tasks from services: the one way work leaves a transaction for later."""

import logging
from functools import partial
from typing import Any

from celery import Task
from django.conf import settings
from django.db import transaction

from plaza.core.background import answer_thread

logger = logging.getLogger(__name__)


def _queue(task: Task, *args: Any, if_lost: str = "") -> None:
    try:
        task.delay(*args)
    except Exception:  # kombu's OperationalError, or the task's own error in eager mode
        logger.exception("Could not run %s%s%s", task.name, args, f"; {if_lost}" if if_lost else "")


def queue_after_commit(task: Task, *args: Any, if_lost: str = "") -> None:
    """Queue a background task once the current transaction commits. A broker that is down
    loses that task (logged, with `if_lost`: what an operator can do about it), never the
    write that asked for it. Without a broker the task runs in this process, before the
    request that queued it answers."""
    transaction.on_commit(partial(_queue, task, *args, if_lost=if_lost))


def queue_after_answer(task: Task, *args: Any) -> None:
    """Like queue_after_commit, for a task whose duration must not show in the answer (an
    email: how long the mail server takes would tell who has an account). Without a broker it
    runs on the process's background thread (plaza.core.background) instead of in the
    request."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(partial(answer_thread.submit, _queue, task, *args))
    else:
        queue_after_commit(task, *args)
