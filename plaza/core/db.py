"""Database helpers shared by the services."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

ModelT = TypeVar("ModelT", bound=models.Model)

UNIQUE_CREATE_ATTEMPTS = 3


def get_or_create_unique(
    model: type[ModelT],
    *,
    on_create: Callable[[ModelT], None],
    still_possible: Callable[[], bool],
    prepare: Callable[[], None] | None = None,
    **lookup: Any,
) -> tuple[ModelT, bool]:
    """Fetch the row matching `lookup` or create it, running `on_create` (counters,
    notifications) in the same transaction as the insert. Returns the row and whether it is new.

    The model must have a unique constraint over `lookup`: that constraint, not a prior
    SELECT, decides between concurrent requests, so exactly one of them creates the row and
    runs `on_create`. The losers read the winner's row back. On PostgreSQL that read can
    find nothing when the winner was undone in between (a like racing an unlike): the
    attempt is then repeated. `still_possible` tells a retryable race from a row that can
    never be created (its parent was deleted); otherwise the IntegrityError propagates.
    `prepare` runs first in each attempt's transaction (to lock the parent row, say).
    """
    for attempt in range(1, UNIQUE_CREATE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if prepare is not None:
                    prepare()
                row, created = model._default_manager.get_or_create(**lookup)
                if created:
                    on_create(row)
            return row, created
        except IntegrityError:
            if attempt == UNIQUE_CREATE_ATTEMPTS or not still_possible():
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
