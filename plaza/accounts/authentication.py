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


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>`` against hashed, per-device tokens: one indexed query."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, AuthToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header. Expected 'Token <key>'."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        if len(raw) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return self.authenticate_token(raw)

    def authenticate_token(self, raw: str) -> tuple[User, AuthToken]:
        return check_token(token_by_digest(hash_token(raw)))

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


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
