"""Tickets that open the WebSocket (/ws/) from clients that cannot send headers."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts.models import AuthToken
from plaza.core.throttling import RealtimeTicketRateThrottle, throttles_with
from plaza.realtime.tickets import ticket_issue
from plaza.rest.common import error_responses


class TicketView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = throttles_with(RealtimeTicketRateThrottle)

    @extend_schema(
        operation_id="realtime_ticket",
        request=None,
        responses={
            201: inline_serializer(
                "RealtimeTicket",
                {
                    "ticket": serializers.CharField(
                        help_text="Open `/ws/?ticket=<ticket>` with it, once."
                    ),
                    "expires_in": serializers.IntegerField(help_text="Seconds it stays valid."),
                },
            ),
            **error_responses(401),
        },
        description="A single-use ticket for opening the WebSocket at `/ws/` where the "
        "client cannot send an `Authorization` header (browsers). It is bound to the token "
        "of this request: revoking that token voids it. See docs/realtime.md.",
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, AuthToken):  # IsAuthenticated with token auth: never
            raise serializers.ValidationError("Sign in with a token to get a ticket.")
        return Response(
            {"ticket": ticket_issue(token), "expires_in": settings.REALTIME_TICKET_TTL_SECONDS},
            status=status.HTTP_201_CREATED,
        )
