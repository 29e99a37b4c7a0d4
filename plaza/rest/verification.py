"""Email verification: confirming the address from the emailed link, and asking again."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts import services
from plaza.core.throttling import VerificationEmailRateThrottle, throttles_with
from plaza.rest.common import error_responses, signed_in_user


class EmailVerifySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=300, help_text="`token` from the email.")


ResendResultSerializer = inline_serializer(
    "EmailVerificationResent",
    {"sent": serializers.BooleanField(help_text="False when the address is already verified.")},
)


class EmailVerifyView(APIView):
    # The link is opened wherever the email is read, signed in or not: the token says who.
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_email_verify",
        request=EmailVerifySerializer,
        responses={204: None, **error_responses(400)},
        auth=[],
        description=(
            "Confirm an email address with the token from the sign-up (or address change) "
            "email. A token stops working when the account's address changes."
        ),
    )
    def post(self, request: Request) -> Response:
        data = EmailVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verify(token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyResendView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = throttles_with(VerificationEmailRateThrottle)

    @extend_schema(
        operation_id="auth_email_verify_resend",
        request=None,
        responses={202: ResendResultSerializer, **error_responses(401)},
        description="Email the signed-in user a new confirmation link.",
    )
    def post(self, request: Request) -> Response:
        sent = services.email_verification_resend(user=signed_in_user(request))
        return Response({"sent": sent}, status=status.HTTP_202_ACCEPTED)
