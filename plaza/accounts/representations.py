"""How an account appears inside other objects (a post's author, a notification's actor, a
message's sender), in REST answers and live events alike."""

from typing import Any

from rest_framework.request import Request

from plaza.accounts.models import User


def user_summary(user: User, request: Request | None) -> dict[str, Any]:
    """The summary of an account. With a request, the avatar URL is absolute, as DRF renders
    file fields; live events have no request and carry the URL as the storage gives it."""
    avatar: str | None = None
    if user.avatar:
        avatar = request.build_absolute_uri(user.avatar.url) if request else user.avatar.url
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": user.display_name,
        "avatar": avatar,
    }
