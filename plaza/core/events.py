"""Live events: the mechanism services use to tell users' open WebSockets what changed.

A service that changes state says in its own body which events leave (`publish`, or
`publish_if_online` when rendering costs queries); this module delivers them, below the
domain, so that every face and every domain package can use it. The WebSocket face
(plaza.realtime) only holds the sockets: it joins them to the groups named here.

An event is ``{"type", "id", "data"}`` (docs/realtime.md): `data` is the object as the REST
API renders it (each domain package's representations module builds both), and `id` its
snowflake id, which a client that reconnects passes back as ``?since=`` to the matching REST
list to fetch what it missed. Events leave only after the transaction that caused them
commits, so a client never hears of a row that was rolled back.

Delivery is best effort by design: the database is the record, the event a nudge. Publishing
never raises; with the channel layer unreachable (Redis down) it logs and the write that
caused it still succeeds.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from plaza.core.presence import presence

logger = logging.getLogger(__name__)

# The message types the WebSocket face handles (plaza.realtime.consumers.EventsConsumer).
EVENT_MESSAGE = "event.send"
CLOSE_MESSAGE = "session.close"


def user_group(user_id: int) -> str:
    """The group every open WebSocket of a user belongs to."""
    return f"user.{user_id}"


def token_group(token_id: int) -> str:
    """The group of the WebSockets opened with one API token: closed when it is revoked."""
    return f"token.{token_id}"


def encode_event(event_type: str, data: dict[str, Any], event_id: str | None) -> str:
    """The event as the JSON text a client receives, built once for all its recipients."""
    return orjson.dumps({"type": event_type, "id": event_id, "data": data}).decode()


def publish(
    user_ids: Iterable[int],
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
) -> None:
    """Send an event to every open WebSocket of these users once the current transaction
    commits (at once outside one). Never raises."""
    recipients = sorted(set(user_ids))
    if not recipients:
        return
    text = encode_event(event_type, data, event_id)

    def send() -> None:
        _group_send_all(
            [user_group(user_id) for user_id in recipients],
            {"type": EVENT_MESSAGE, "text": text},
        )

    transaction.on_commit(send)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    id: str | None = None


def publish_if_online(user_id: int, render: Callable[[], Iterable[Event]]) -> None:
    """Once the current transaction commits, and only if the user has a WebSocket open,
    render events for them and send those, in order. For events whose rendering costs
    queries: nobody online (a small server at night, every test) costs none. `render` gives
    nothing when there is nothing left to say (its object was undone or hidden meanwhile).
    Never raises."""

    def send() -> None:
        if not _is_online(user_id):
            return  # the REST lists have it when they come back
        try:
            events = list(render())
        except Exception:  # the database went away after the commit: the row itself stands
            logger.warning("Could not render a live event: delivery skipped", exc_info=True)
            return
        for event in events:
            publish([user_id], event.type, event.data, event_id=event.id)

    transaction.on_commit(send)


def _is_online(user_id: int) -> bool:
    try:
        return presence().is_online(user_id)
    except Exception:  # Redis down: nothing could be delivered either
        logger.warning("Real-time presence unavailable: live event skipped")
        return False


def close_sessions_of_token(token_id: int) -> None:
    """Close the WebSockets opened with this token, once its revocation commits."""

    def send() -> None:
        _group_send_all([token_group(token_id)], {"type": CLOSE_MESSAGE})

    transaction.on_commit(send)


def _group_send_all(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _run(layer, groups, message)
    except Exception:  # the layer's backend is down (Redis): the write itself stands
        logger.warning(
            "Could not publish %s to %d group(s): live delivery skipped",
            message["type"],
            len(groups),
            exc_info=True,
        )


async def _send_to_groups(
    layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]
) -> None:
    for group in groups:
        await layer.group_send(group, message)


def _run(layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]) -> None:
    """Run a send to the layer from synchronous code.

    The in-memory layer lives on the ASGI server's event loop: a sync view there reaches it
    through `async_to_sync`, and any other process (a WSGI worker, a management command) has
    no WebSocket to deliver to anyway. The Redis layer is reached from anywhere; without a
    running event loop `async_to_sync` would open a new loop, and Redis connection, per call,
    so those sends go through one long-lived loop per process instead.
    """
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(_send_to_groups)(layer, groups, message)
        return
    future: Future[None] = asyncio.run_coroutine_threadsafe(
        _send_to_groups(layer, groups, message), _publisher_loop()
    )
    future.result(timeout=settings.REDIS_TIMEOUT_SECONDS * 4)


@cache
def _publisher_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="plaza-realtime-publisher", daemon=True).start()
    return loop
