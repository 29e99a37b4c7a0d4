"""Which pages and host names may open `/ws/`.

Django checks an HTTP request's Host against ALLOWED_HOSTS when a view reads it; a WebSocket
handshake never reaches Django's request machinery, so nothing would. And a browser sends a
site's cookies and lets any page open a WebSocket to any server: the Origin header is the
only thing that says which page is asking. Plaza's sockets are token-authenticated, not
cookie-authenticated, but a page on another site must still not be able to use a ticket or
token it got hold of from a visitor's browser, nor reach Plaza under a host name it does not
serve (DNS rebinding).

- Host must match ALLOWED_HOSTS, as for HTTP.
- Origin, when sent, must be one of this server's own origins: a host in ALLOWED_HOSTS or an
  origin in CSRF_TRUSTED_ORIGINS (where a web app on another origin is allowed). Native
  clients (apps, scripts) send no Origin and are let through: only browsers send it, and a
  browser always does.

A refused handshake is accepted and then closed with 4403 and a reason, as the consumer does
for bad credentials, so that clients see why.
"""

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.http.request import split_domain_port, validate_host

CLOSE_FORBIDDEN_ORIGIN = 4403


class SameSiteWebSocketGuard(OriginValidator):
    """Channels' origin check (patterns as in ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS), with a
    missing Origin allowed, and the Host header checked too."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, [*settings.ALLOWED_HOSTS, *settings.CSRF_TRUSTED_ORIGINS])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        reason = self.refusal(scope)
        if reason is None:
            await self.application(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN, "reason": reason}
            )

    def refusal(self, scope: dict[str, Any]) -> str | None:
        """Why this handshake is refused, or None."""
        headers = dict(scope.get("headers", ()))
        host = headers.get(b"host", b"").decode("latin-1")
        domain, _port = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return "Unknown host: add it to ALLOWED_HOSTS."
        origin = headers.get(b"origin")
        if origin is None:
            return None
        try:
            parsed = urlparse(origin.decode("latin-1"))
        except ValueError:
            parsed = None
        if parsed is None or not self.validate_origin(parsed):
            return "This origin may not open Plaza's WebSocket: see CSRF_TRUSTED_ORIGINS."
        return None
