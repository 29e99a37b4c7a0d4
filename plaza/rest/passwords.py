"""Passwords: reset by email for someone signed out, change for someone signed in."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts import services
from plaza.accounts.models import AuthToken
from plaza.core.throttling import (
    AccountPasswordCheckRateThrottle,
    PasswordCheckRateThrottle,
    PasswordResetRateThrottle,
    throttles_with,
)
from plaza.rest.accounts import password_field
from plaza.rest.common import error_responses, signed_in_user

RESET_REQUESTED = {
    "detail": "If an account uses this address, a reset link is on its way to it.",
}


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    # A uid encodes a 64-bit id in base64 (at most 27 characters); a token is about 40.
    uid = serializers.CharField(max_length=64, help_text="`uid` from the reset email.")
    token = serializers.CharField(max_length=128, help_text="`token` from the reset email.")
    new_password = password_field("The new password.")


class PasswordChangeSerializer(serializers.Serializer):
    current_password = password_field("The password in use now.")
    new_password = password_field("The new password.")


ResetRequestedSerializer = inline_serializer(
    "PasswordResetRequested", {"detail": serializers.CharField()}
)


class PasswordResetView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = throttles_with(PasswordResetRateThrottle)

    @extend_schema(
        operation_id="auth_password_reset",
        request=PasswordResetSerializer,
        responses={202: ResetRequestedSerializer, **error_responses(400)},
        auth=[],
        description=(
            "Email a single-use reset link to the account with this address. The answer is "
            "the same whether or not such an account exists."
        ),
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return Response(RESET_REQUESTED, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=PasswordResetConfirmSerializer,
        responses={204: None, **error_responses(400)},
        auth=[],
        description=(
            "Set a new password with the uid and token of a reset email. Every token of the "
            "account is revoked: each device signs in again. A link works once."
        ),
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]
    # Each try checks a password guess: it spends the sign-in budget.
    throttle_classes = throttles_with(PasswordCheckRateThrottle, AccountPasswordCheckRateThrottle)

    @extend_schema(
        operation_id="auth_password_change",
        request=PasswordChangeSerializer,
        responses={204: None, **error_responses(400, 401)},
        description=(
            "Change the password, giving the current one. Every other device is signed out; "
            "the token this request was made with stays valid."
        ),
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user=signed_in_user(request),
            keep=request.auth if isinstance(request.auth, AuthToken) else None,
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
