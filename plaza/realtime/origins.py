"""Which pages and host names may open `/ws/`.

Django checks an HTTP request's Host against ALLOWED_HOSTS when a view reads it; a WebSocket
handshake never reaches Django's request machinery, so nothing would. And a browser lets any
page open a WebSocket to any server: the Origin header is the only thing that says which page
is asking. Plaza's sockets are token-authenticated, not cookie-authenticated, but a page on
another site must still not be able to use a ticket or token it got hold of from a visitor's
browser, nor reach Plaza under a host name it does not serve (DNS rebinding).

The rules are those of Django's CSRF origin check (CsrfViewMiddleware), so one rule decides
for forms and sockets alike:

- Host must match ALLOWED_HOSTS, as for HTTP.
- Origin, when sent, must be this server's own origin (the scheme it is reached by, and the
  Host of the handshake, port included) or one in CSRF_TRUSTED_ORIGINS (exactly, or
  `https://*.example.com` for its subdomains). `ALLOWED_HOSTS = *` widens the Host check
  only, never the Origin check.
- Native clients (apps, scripts) send no Origin and are let through: only browsers send it,
  and a browser always does.

The scheme is https (wss) when the connection is, or, behind a TLS-terminating proxy with
BEHIND_HTTPS_PROXY on, when the proxy says so in X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).

A refused handshake is accepted and then closed with 4403 and a reason, as the consumer does
for bad credentials, so that clients see why.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

CLOSE_FORBIDDEN_ORIGIN = 4403
UNKNOWN_HOST = "Unknown host: add it to ALLOWED_HOSTS."
FOREIGN_ORIGIN = "This origin may not open Plaza's WebSocket: see CSRF_TRUSTED_ORIGINS."


class SameSiteWebSocketGuard:
    """ASGI middleware in front of the WebSocket router: refuses handshakes whose Host or
    Origin is not this server's (see the module's docstring)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        reason = handshake_refusal(scope)
        if reason is None:
            await self.application(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": CLOSE_FORBIDDEN_ORIGIN, "reason": reason}
            )


def handshake_refusal(scope: dict[str, Any]) -> str | None:
    """Why this handshake is refused, or None."""
    headers = {name: value.decode("latin-1") for name, value in scope.get("headers", ())}
    host = headers.get(b"host", "").strip()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return UNKNOWN_HOST
    origin = headers.get(b"origin")
    if origin is None:
        return None
    origin = origin.strip().lower()
    scheme = "https" if _is_secure(scope, headers) else "http"
    if origin == f"{scheme}://{host.lower()}" or origin in _trusted_exactly():
        return None
    try:
        parsed = urlsplit(origin)
        origin_host = parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return FOREIGN_ORIGIN
    for trusted_scheme, suffix in _trusted_subdomains():
        if (
            parsed.scheme == trusted_scheme
            and origin_host
            and is_same_domain(parsed.netloc, suffix)
        ):
            return None
    return FOREIGN_ORIGIN


def _is_secure(scope: dict[str, Any], headers: dict[bytes, str]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header is None:
        return False
    name, secure_value = proxy_header  # ("HTTP_X_FORWARDED_PROTO", "https")
    header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    return headers.get(header, "").split(",")[0].strip() == secure_value


def _trusted_exactly() -> set[str]:
    return {origin.lower() for origin in settings.CSRF_TRUSTED_ORIGINS if "*" not in origin}


def _trusted_subdomains() -> list[tuple[str, str]]:
    """(scheme, ".example.com") for each `scheme://*.example.com` in CSRF_TRUSTED_ORIGINS."""
    found = []
    for origin in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in origin:
            parsed = urlsplit(origin)
            found.append((parsed.scheme, parsed.netloc.lstrip("*")))
    return found
