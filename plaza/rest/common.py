"""Pieces every part of the REST face shares."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from plaza.accounts.models import User
from plaza.accounts.representations import user_summary
from plaza.core.numbers import parse_id

# The one error shape (see plaza.core.errors). Declared inline because a serializer class
# cannot have a field called "fields".
ErrorSerializer = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(help_text="Stable, machine-readable error code."),
        "message": serializers.CharField(help_text="Human-readable explanation."),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages per offending input field; empty when no field is at fault.",
        ),
    },
)


@extend_schema_field(OpenApiTypes.STR)
class IdField(serializers.Field):
    """An object's id in a request body: a string of digits, as every answer gives ids (a
    JSON number is taken too)."""

    default_error_messages = {"id": "Not an id: give one as a string of digits."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        number = parse_id(data) if isinstance(data, str) else None
        if number is None:
            self.fail("id")
        return number

    def to_representation(self, value: int) -> str:
        return str(value)


def signed_in_user(request: Request) -> User:
    """The request's account, in views whose permissions already require signing in."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def viewer_of(request: Request) -> User | None:
    """The request's account, or None for an anonymous reader: what selectors that leave out
    what a viewer mutes or blocks take."""
    user = request.user
    return user if isinstance(user, User) else None


_ERROR_DESCRIPTIONS = {
    400: "Invalid input (see `fields`), malformed JSON or a bad cursor.",
    401: "Missing, invalid or expired token.",
    403: "Signed in, but not allowed to do this (for example, not the author).",
    404: "No such object (or not yours to see).",
    413: "Request body too large.",
    415: "Unsupported media type: send JSON with `Content-Type: application/json`.",
    429: "Rate limit reached (code `throttled`); retry after `Retry-After` seconds. "
    "See X-RateLimit-Limit, -Remaining and -Reset on every answer.",
    503: "The database is unavailable; retry after `Retry-After` seconds.",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in status_codes
    }


class UserFieldsSerializer(serializers.ModelSerializer):
    """The fields every rendering of an account starts with."""

    id = serializers.CharField(read_only=True)
    avatar = serializers.ImageField(read_only=True, allow_null=True, use_url=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "avatar"]
        read_only_fields = fields


class UserSummarySerializer(UserFieldsSerializer):
    """How an account appears inside other objects (post author, notification actor)."""

    def to_representation(self, instance: User) -> dict[str, Any]:
        return user_summary(instance, self.context.get("request"))
