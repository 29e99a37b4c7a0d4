"""Keyset ("cursor") pagination over time-sortable ids.

Every list in Plaza is ordered by a snowflake id (see plaza.core.ids), so one unique,
indexed column is the whole keyset: a page is ``WHERE id < :cursor ORDER BY id DESC LIMIT n``
whatever its depth, new rows arriving do not shift pages, and no COUNT(*) is ever run.

DRF's CursorPagination does the work; this subclass pins the ordering, caps ``?limit=``,
and refuses a cursor whose position is not an id (DRF would pass it to the database and fail
with a 500), answering 400 instead.
"""

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from plaza.core.ids import MAX_ID

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "limit"
    max_page_size = MAX_PAGE_SIZE
    invalid_cursor_message = "This cursor is not valid. Start again from the first page."

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except Exception as exc:  # DRF raises NotFound; a bad cursor is the client's input
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        if cursor is None:
            return None
        if cursor.position is not None:
            try:
                position = int(cursor.position)
            except ValueError:
                position = -1
            if not 0 <= position <= MAX_ID or cursor.offset > MAX_PAGE_SIZE:
                raise ValidationError({"cursor": [self.invalid_cursor_message]})
        elif cursor.offset > MAX_PAGE_SIZE:
            raise ValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response_schema = super().get_paginated_response_schema(schema)
        response_schema["required"] = ["next", "previous", "results"]
        return response_schema


class OldestFirstPagination(IdCursorPagination):
    """For conversations and comment threads, read top to bottom."""

    ordering = "id"
