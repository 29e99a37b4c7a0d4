"""WebSocket sessions in-process: Channels' WebsocketCommunicator against the real ASGI
application, with the handshake a real client sends."""

import json
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from config.asgi import application

TIMEOUT = 3


def socket(
    *, token: str | None = None, query: str = "", authorization: str | None = None
) -> WebsocketCommunicator:
    """A WebSocket handshake as a real client sends it: with a Host (HTTP/1.1 requires it),
    and an Authorization header when given a token (`Token <token>`) or the header itself."""
    headers = [(b"host", b"localhost")]
    if token:
        authorization = f"Token {token}"
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    return WebsocketCommunicator(application, f"/ws/{query}", headers=headers)


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def connect(communicator: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return await receive(communicator)


async def closed_with(communicator: WebsocketCommunicator) -> int:
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected  # accepted first, so that the close code reaches the client
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    return int(output["code"])


def call(client: APIClient, method: str, path: str, data: Any = None) -> Any:
    response = getattr(client, method)(path, data, format="json")
    assert response.status_code < 300, response.content
    return response


@sync_to_async
def arrange(build: Callable[[], Any]) -> Any:
    return build()
