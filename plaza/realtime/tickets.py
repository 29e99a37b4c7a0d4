"""Short-lived tickets that open a WebSocket where the client cannot send headers.

Browsers' WebSocket API cannot set `Authorization`, and a long-lived token must never sit in a
URL (server logs, proxies, browser history keep URLs). So a signed-in client asks
`POST /api/realtime/ticket/` for a ticket and opens `/ws/?ticket=...` with it: the ticket is
signed with SECRET_KEY (any server process can check it, no shared store needed), names the
API token it was issued for (revoking that token makes it worthless), expires after
REALTIME_TICKET_TTL_SECONDS and opens one connection only.
"""

import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from plaza.accounts.models import AuthToken

_SALT = "plaza.realtime.ticket"


def ticket_issue(token: AuthToken) -> str:
    return signing.dumps({"t": token.pk, "n": secrets.token_urlsafe(12)}, salt=_SALT)


def ticket_redeem(ticket: str) -> int | None:
    """The id of the API token a valid, unused ticket was issued for; None otherwise."""
    ttl = settings.REALTIME_TICKET_TTL_SECONDS
    try:
        payload = signing.loads(ticket, salt=_SALT, max_age=ttl)
        token_id, nonce = int(payload["t"]), str(payload["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    # Single use: the first connection claims the nonce for as long as the ticket lives.
    if not cache.add(f"realtime:ticket:{nonce}", 1, timeout=ttl + 1):
        return None
    return token_id
