"""ASGI middleware that every way of serving Plaza goes through (config/asgi.py).

Django's ASGI handler reads a request's whole body before any of its own limits apply
(DATA_UPLOAD_MAX_MEMORY_SIZE is checked when a view reads the body), spooling what passes
FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file: an anonymous client could make the server
write hundreds of megabytes to disk before being told 413. The limit is therefore enforced
here, below Django, on the raw ASGI messages:

- a `Content-Length` over the route's limit answers 413 at once, without reading the body;
- a body without one (chunked) is counted as it arrives, and the request is cut off the
  moment it passes the limit: Django is told the client went away (it stops reading and
  answers nothing) and the 413 is sent from here.

Limits are per route: the longest matching path prefix in `limits_by_prefix` wins, else the
default (settings.DATA_UPLOAD_MAX_MEMORY_SIZE). Uploads of media will declare a larger limit
for their own route.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from plaza.core.errors import error_body
from plaza.core.numbers import parse_natural

# Larger than any limit a route may set (1 TiB).
MAX_CONTENT_LENGTH = 2**40

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Loose on purpose: Django's and Channels' applications each spell these types their own way.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class RequestBodyLimit:
    """Refuses HTTP request bodies larger than their route's limit with a 413 JSON error."""

    def __init__(
        self, app: ASGIApp, default_limit: int, limits_by_prefix: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        # Longest prefix first, so that /api/media/ can allow more than /api/.
        self.limits_by_prefix = sorted(
            (limits_by_prefix or {}).items(), key=lambda item: len(item[0]), reverse=True
        )

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits_by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return

        received = 0
        cut_off = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading at a disconnect and answers nothing (RequestAborted);
                    # the 413 goes out below, once it has returned.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracked_send)
        if cut_off and not response_started:
            await _send_too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            # The server has parsed the headers, and refuses a malformed length itself; one
            # too long to parse is certainly over any limit.
            length = parse_natural(value.decode("latin-1").strip(), MAX_CONTENT_LENGTH)
            return MAX_CONTENT_LENGTH if length is None else length
    return None


async def _send_too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(
        error_body("too_large", f"The request body is too large: at most {limit} bytes here.")
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
