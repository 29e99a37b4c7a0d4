"""Keyset ("cursor") pagination over time-sortable ids.

Every list in Plaza is ordered by a snowflake id (see plaza.core.ids), so one unique,
indexed column is the whole keyset: a page is ``WHERE id < :cursor ORDER BY id DESC LIMIT n``
whatever its depth, new rows arriving do not shift pages, and no COUNT(*) is ever run.

DRF's CursorPagination does the work; this subclass pins the ordering, caps ``?limit=``,
and refuses a cursor whose position is not an id (DRF would pass it to the database and fail
with a 500), answering 400 instead.
"""

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from plaza.core.numbers import parse_id, parse_natural

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_EXAMPLE_POSITION = 456429368177224719  # an id, as every cursor's position is


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "limit"
    max_page_size = MAX_PAGE_SIZE
    invalid_cursor_message = "This cursor is not valid. Start again from the first page."

    def get_page_size(self, request: Request) -> int:
        """`?limit=` as DRF reads it (missing, zero or not a number: the default; above the
        maximum: the maximum), through the shared number parser."""
        raw = request.query_params.get(self.page_size_query_param)
        size = None if raw is None else parse_natural(raw, self.max_page_size, clamp=True)
        return size or self.page_size

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except Exception as exc:  # DRF raises NotFound; a bad cursor is the client's input
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        if cursor is None:
            return None
        if cursor.position is not None:
            if parse_id(str(cursor.position)) is None or cursor.offset > MAX_PAGE_SIZE:
                raise ValidationError({"cursor": [self.invalid_cursor_message]})
        elif cursor.offset > MAX_PAGE_SIZE:
            raise ValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response_schema = super().get_paginated_response_schema(schema)
        response_schema["required"] = ["next", "previous", "results"]
        # Links as this server makes them (DRF's examples point at api.example.org). One page
        # component serves several lists, so the path is an example too.
        links = response_schema["properties"]
        links["next"]["example"] = self._example_link(reverse=False)
        links["previous"]["example"] = self._example_link(reverse=True)
        links["next"]["description"] = "The next page, or null after the last one."
        links["previous"]["description"] = "The page before, or null on the first one."
        return response_schema

    def _example_link(self, *, reverse: bool) -> str:
        # encode_cursor builds on the URL of the request it answers; a schema has none.
        self.base_url = f"{settings.PUBLIC_URL}/api/posts/"
        cursor = Cursor(offset=0, reverse=reverse, position=_EXAMPLE_POSITION)
        return str(self.encode_cursor(cursor))


class OldestFirstPagination(IdCursorPagination):
    """For conversations and comment threads, read top to bottom."""

    ordering = "id"


class CatchUpPagination(IdCursorPagination):
    """Newest first by cursor, plus ``?since=<id>``: the items newer than that id, oldest
    first, for a client that was disconnected and resumes from the last event it saw
    (docs/realtime.md). Its `next` link continues the catch-up; `previous` is null."""

    since_query_param = "since"
    invalid_since_message = "Expected the id of the last item you saw."

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        raw = request.query_params.get(self.since_query_param)
        self.catch_up_next: str | None = None
        self.catching_up = raw is not None
        if raw is None:
            return super().paginate_queryset(queryset, request, view)
        since = parse_id(raw)
        if since is None:
            raise ValidationError({self.since_query_param: [self.invalid_since_message]})
        self.request = request
        self.base_url: str = request.build_absolute_uri()
        page_size = self.get_page_size(request) or self.page_size
        rows = list(queryset.order_by("id").filter(id__gt=since)[: page_size + 1])
        page = rows[:page_size]
        if len(rows) > page_size:
            self.catch_up_next = self._get_position_from_instance(page[-1], ["id"])
        return page

    def get_next_link(self) -> str | None:
        if not self.catching_up:
            return super().get_next_link()
        if self.catch_up_next is None:
            return None
        return str(replace_query_param(self.base_url, self.since_query_param, self.catch_up_next))

    def get_previous_link(self) -> str | None:
        if self.catching_up:
            return None
        return super().get_previous_link()

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.since_query_param,
                "required": False,
                "in": "query",
                "description": "Only items newer than this id, oldest first: how a client "
                "catches up with what it missed while disconnected. Takes precedence over "
                "`cursor`.",
                # Digits only, as paginate_queryset requires.
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        ]
