"""Work that must not hold up the request that asked for it, in the embedded default.

With a broker (the distributed mode) background tasks run in Celery workers and this module
is not involved. Without one, Celery runs tasks eagerly: in the request's own process, after
its commit, before the answer leaves. That is right for work the answer depends on, and
wrong for talking to a mail server: a reset email sent inside the request made known
addresses answer 300 ms slower than unknown ones with a slow SMTP server, telling anyone
which addresses have accounts. Such work (plaza.core.tasks.queue_after_answer) is handed to
one thread per process instead, which does it in order after the answer has gone, on a
database connection of its own that it closes after each piece of work.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from django.db import connections

logger = logging.getLogger(__name__)


class BackgroundThread:
    """One worker thread, started on first use, and the work still pending on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        """Do `work(*args)` on the thread; an exception is logged, never raised to anyone."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            future = self._executor.submit(self._run, work, *args)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Wait for everything submitted so far; False if some is still running at timeout."""
        with self._lock:
            pending = list(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    @staticmethod
    def _run(work: Callable[..., Any], *args: Any) -> None:
        try:
            work(*args)
        except Exception:
            logger.exception("Background work %s failed", getattr(work, "__qualname__", work))
        finally:
            # Idle between pieces of work, possibly for hours: hold no connection meanwhile.
            connections.close_all()


# Tasks queued with plaza.core.tasks.queue_after_answer (emails).
answer_thread = BackgroundThread("plaza-after-answer")
