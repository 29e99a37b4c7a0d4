from typing import Any

from django.conf import settings
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView


class IsAuthorOrReadOnly(permissions.BasePermission):
    """Anyone may read; only the author may change or delete."""

    message = "Only the author can change or delete this."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user.is_authenticated and obj.author_id == request.user.pk)


class VerifiedEmailToCreate(permissions.BasePermission):
    """With REQUIRE_VERIFIED_EMAIL on, creating anything (a post, comment, like, follow,
    conversation or message) needs a confirmed email address. Reading, editing and deleting
    what one already has stay open, as does everything with the setting off (the default)."""

    message = (
        "Confirm your email address first: follow the link we emailed you, or ask for a new "
        "one with POST /api/auth/email/verify/resend/."
    )
    code = "email_unverified"

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method != "POST" or not settings.REQUIRE_VERIFIED_EMAIL:
            return True
        user = request.user
        # Anonymous requests are refused (401) by the view's other permissions.
        return not user.is_authenticated or bool(getattr(user, "email_verified", False))
