"""How an account appears inside other objects (a post's author, a notification's actor, a
message's sender), in REST answers and live events alike."""

from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from rest_framework.request import Request

from plaza.accounts.models import User


def user_summary(user: User, request: Request | None) -> dict[str, Any]:
    """The summary of an account. The avatar URL is absolute, as DRF renders file fields:
    from the request's host in a REST answer, from PUBLIC_URL in a live event, which has no
    request (a storage that gives absolute URLs, like S3, keeps its own)."""
    avatar: str | None = None
    if user.avatar:
        url = user.avatar.url
        avatar = request.build_absolute_uri(url) if request else urljoin(settings.PUBLIC_URL, url)
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": user.display_name,
        "avatar": avatar,
    }
