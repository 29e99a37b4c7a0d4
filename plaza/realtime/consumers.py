"""The WebSocket face: one endpoint, `/ws/`, that streams a signed-in user's live events.

Protocol (docs/realtime.md): the server accepts, authenticates (an `Authorization: Bearer`
or `Token` header, or `?ticket=` from POST /api/realtime/ticket/), then sends
`session.ready`; after that every frame is a JSON event `{type, id, data}`. The server
sends `{"type": "ping"}` after REALTIME_HEARTBEAT_SECONDS without traffic; a client may send
`{"type": "ping"}` at any time and gets `{"type": "pong"}`. Everything else a client sends
is ignored.
"""

import asyncio
import contextlib
import logging
import random
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.exceptions import AuthenticationFailed

from plaza.accounts.authentication import (
    TokenAuthentication,
    check_token,
    token_from_authorization,
)
from plaza.accounts.models import AuthToken, User
from plaza.accounts.representations import user_summary
from plaza.accounts.selectors import token_by_id
from plaza.core.events import EVENT_MESSAGE, encode_event, token_group, user_group
from plaza.core.presence import presence
from plaza.notifications.selectors import unread_count_for_user
from plaza.realtime.tickets import ticket_redeem

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's own; 1013 is the standard "try again later").
CLOSE_UNAUTHENTICATED = 4401  # no, bad, expired or revoked credentials
CLOSE_TOO_MANY_CONNECTIONS = 4429  # REALTIME_MAX_CONNECTIONS_PER_USER reached
CLOSE_TRY_AGAIN_LATER = 1013  # the channel layer (Redis) is unreachable
CLOSE_TOO_SLOW = 4408  # the client stopped reading: reconnect and catch up with ?since=

# A send that waits this long means the client stopped reading; its events would pile up.
SEND_TIMEOUT_SECONDS = 10

_PING = encode_event("ping", {}, None)
_PONG = encode_event("pong", {}, None)


class EventsConsumer(AsyncWebsocketConsumer):
    user: User | None = None
    token: AuthToken | None = None
    heartbeat: asyncio.Task[None] | None = None
    accepted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError):
            # The channel layer could not make this socket's channel (Redis away, or its
            # connection not yet back after a restart), before the handshake: answer it as
            # any other moment without the layer, "try again later", never an HTTP 500.
            if self.accepted:
                raise
            logger.warning("Real-time layer unavailable: WebSocket refused", exc_info=True)
            await receive()  # the client's websocket.connect
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER, "reason": "Try again."}
            )

    async def connect(self) -> None:
        # Accept first, then close with a code if need be: a refused handshake would reach
        # the client as a bare HTTP 403 and no reason.
        await self.accept()
        self.accepted = True
        try:
            self.user, self.token = await database_sync_to_async(self._authenticate)()
        except AuthenticationFailed as exc:
            await self.close(code=CLOSE_UNAUTHENTICATED, reason=str(exc.detail))
            return
        try:
            open_connections = await sync_to_async(presence().connect)(
                self.user.pk, self.channel_name
            )
            if open_connections > settings.REALTIME_MAX_CONNECTIONS_PER_USER:
                await sync_to_async(presence().disconnect)(self.user.pk, self.channel_name)
                self.user = None
                await self.close(
                    code=CLOSE_TOO_MANY_CONNECTIONS, reason="Too many open connections."
                )
                return
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
            await self.channel_layer.group_add(token_group(self.token.pk), self.channel_name)
        except Exception:  # Redis (presence, channel layer) unreachable
            logger.warning("Real-time layer unavailable: WebSocket refused", exc_info=True)
            self.user = None
            await self.close(code=CLOSE_TRY_AGAIN_LATER, reason="Try again later.")
            return
        unread = await database_sync_to_async(unread_count_for_user)(self.user)
        await self.send(
            text_data=encode_event(
                "session.ready",
                {
                    "user": user_summary(self.user, None),
                    "unread_notifications": unread,
                    "heartbeat_seconds": settings.REALTIME_HEARTBEAT_SECONDS,
                },
                None,
            )
        )
        self.heartbeat = asyncio.create_task(self._beat())

    def _authenticate(self) -> tuple[User, AuthToken]:
        # The header is read as the REST API reads it (Bearer or Token), by the same parser.
        headers = dict(self.scope.get("headers", []))
        raw = token_from_authorization(headers.get(b"authorization", b""))
        if raw is not None:
            return TokenAuthentication().authenticate_token(raw)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        tickets = query.get("ticket", [])
        if len(tickets) != 1 or len(tickets[0]) > 500:
            raise AuthenticationFailed("Send an Authorization header or a ?ticket=.")
        token_id = ticket_redeem(tickets[0])
        if token_id is None:
            raise AuthenticationFailed("Invalid, expired or used ticket.")
        return check_token(token_by_id(token_id))

    async def _beat(self) -> None:
        """Ping an idle line, keep this connection's presence alive, and notice a token that
        expired or was revoked while its close event was lost (Redis down at the time).

        The first beat comes at a random moment within the interval: clients that connected
        together (a server restart, a benchmark) would otherwise all beat together, and each
        beat's database check waits its turn in the process's one thread for sync code, with
        the events queued behind them (bench/ws.py measured seconds of delay)."""
        interval = settings.REALTIME_HEARTBEAT_SECONDS
        delay = random.uniform(0, interval)  # noqa: S311 - spreading load, not a secret
        while True:
            await asyncio.sleep(delay)
            delay = interval
            if self.user is None or self.token is None:
                return
            try:
                await database_sync_to_async(self._recheck_token)()
            except AuthenticationFailed:
                await self.close(code=CLOSE_UNAUTHENTICATED, reason="Token revoked or expired.")
                return
            if presence().expires:
                with contextlib.suppress(Exception):  # Redis down: the entry simply ages
                    await sync_to_async(presence().refresh)(self.user.pk, self.channel_name)
            await self._send_or_drop(_PING)

    def _recheck_token(self) -> None:
        assert self.token is not None  # noqa: S101 (set before the heartbeat starts)
        check_token(token_by_id(self.token.pk))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None and '"ping"' in text_data[:100]:
            await self._send_or_drop(_PONG)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections in the sync thread before every handler; the
        # events a connection relays touch no database, so they skip that hop (it queued them
        # behind every view and heartbeat check in the process).
        if message["type"] == EVENT_MESSAGE:
            await self.event_send(message)
            return
        await super().dispatch(message)

    async def event_send(self, message: dict[str, Any]) -> None:
        """A published event (plaza.core.events.publish), already encoded."""
        await self._send_or_drop(message["text"])

    async def session_close(self, message: dict[str, Any]) -> None:
        """The token of this connection was revoked."""
        await self.close(code=CLOSE_UNAUTHENTICATED, reason="Token revoked.")

    async def _send_or_drop(self, text: str) -> None:
        # Each connection's sends run in its own task, so a client that stops reading stalls
        # only itself; past the timeout it is closed and catches up over REST when back.
        try:
            await asyncio.wait_for(self.send(text_data=text), SEND_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.close(code=CLOSE_TOO_SLOW, reason="Too slow: reconnect and catch up.")

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        if self.user is None or self.token is None:
            return
        with contextlib.suppress(Exception):  # Redis down: the entries expire on their own
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
            await self.channel_layer.group_discard(token_group(self.token.pk), self.channel_name)
            await sync_to_async(presence().disconnect)(self.user.pk, self.channel_name)
