"""Races: calls sent from their own threads, all released at the same moment by a barrier,
each with its own database connection."""

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

THREADS = 20
ROUNDS = 10  # for races that need luck to show, and for the deadlock test
TIMEOUT = 60  # seconds; a thread still blocked after this counts as a deadlock


@dataclass(frozen=True)
class Call:
    """One request: the client sending it, the method and the path."""

    client: APIClient
    method: str
    path: str
    body: dict[str, Any] | None = None


def run_together(calls: list[Call]) -> list[int]:
    """Send each call from its own thread, all released at the same moment; return the status
    codes (the callers refuse any 5xx). An exception escaping a view (APIClient re-raises it
    rather than answering 500) or a thread that never finishes fails the test."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def send(call: Call, index: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            send_request = getattr(call.client, call.method)
            response = (
                send_request(call.path)
                if call.body is None
                else send_request(call.path, call.body, format="json")
            )
            statuses[index] = response.status_code
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=send, args=(call, i)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} request(s) still running after {TIMEOUT} s: deadlock?"
    if errors:
        raise errors[0]
    return [status for status in statuses if status is not None]
