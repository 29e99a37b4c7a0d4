"""How an account appears inside other objects (a post's author, a notification's actor, a
message's sender), in REST answers and live events alike."""

from typing import Any

from rest_framework.request import Request

from plaza.accounts.models import User
from plaza.core.representations import file_url


def user_summary(user: User, request: Request | None) -> dict[str, Any]:
    """The summary of an account, its avatar's URL absolute (`file_url`)."""
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": user.display_name,
        "avatar": file_url(user.avatar, request),
    }
