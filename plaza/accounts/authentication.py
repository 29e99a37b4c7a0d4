from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from plaza.accounts.models import AuthToken, User, hash_token
from plaza.accounts.selectors import token_by_digest

# Recording use on every request would turn reads into writes; once an hour is enough for
# an expiry measured in days.
LAST_USED_WRITE_INTERVAL = timedelta(hours=1)
MAX_TOKEN_LENGTH = 200

# The schemes a token is sent under, compared without case (RFC 9110, section 11.1): Bearer
# (RFC 6750), which OAuth clients send, and Token, which DRF clients send.
TOKEN_SCHEMES = frozenset({b"bearer", b"token"})
UNKNOWN_SCHEME_MESSAGE = (
    "Unknown authorization scheme: use `Authorization: Bearer <token>` (or `Token <token>`)."
)
MALFORMED_MESSAGE = "Invalid Authorization header: expected `Bearer <token>`."


class UnknownAuthorizationScheme(exceptions.AuthenticationFailed):
    """Credentials under a scheme Plaza does not read (Basic, Digest...) or a bare token. A
    client that sent them expects to act as someone: a 401 that says what to send, rather
    than serving it as anonymous."""

    default_detail = UNKNOWN_SCHEME_MESSAGE
    default_code = "unknown_authorization_scheme"


def token_from_authorization(header: bytes) -> str | None:
    """The raw token in an Authorization header's value, for every face that reads one (the
    REST API, the WebSocket): None when the header is absent or empty (anonymous);
    `AuthenticationFailed` when it names another scheme, holds a bare token or is malformed.
    """
    parts = header.split()
    if not parts:
        return None
    if parts[0].lower() not in TOKEN_SCHEMES:
        raise UnknownAuthorizationScheme()
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(MALFORMED_MESSAGE)
    try:
        raw = parts[1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise exceptions.AuthenticationFailed("Invalid token.") from exc
    if len(raw) > MAX_TOKEN_LENGTH:
        raise exceptions.AuthenticationFailed("Invalid token.")
    return raw


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` (or ``Token <key>``) against hashed, per-device
    tokens: one indexed query."""

    def authenticate(self, request: Request) -> tuple[User, AuthToken] | None:
        raw = token_from_authorization(get_authorization_header(request))
        if raw is None:
            return None
        return self.authenticate_token(raw)

    def authenticate_token(self, raw: str) -> tuple[User, AuthToken]:
        return check_token(token_by_digest(hash_token(raw)))

    def authenticate_header(self, request: Request) -> str:
        # The standard scheme is the one a 401 asks for (RFC 6750, section 3); Token works too.
        return 'Bearer realm="api"'


def check_token(token: AuthToken | None) -> tuple[User, AuthToken]:
    """The user of a token found by any means (header, WebSocket ticket), if it may still be
    used; `AuthenticationFailed` otherwise. Records its use at most hourly."""
    now = timezone.now()
    if token is None or token.is_expired(now):
        if token is not None:
            token.delete()
        raise exceptions.AuthenticationFailed("Invalid or expired token.")
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed("This account is disabled.")
    if now - token.last_used_at > LAST_USED_WRITE_INTERVAL:
        AuthToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token.user, token
