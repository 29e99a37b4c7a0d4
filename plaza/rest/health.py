from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.rest.common import error_responses


class HealthView(APIView):
    """Liveness and database reachability, for load balancers and benchmarks' baseline."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    # Not rate limited: a load balancer's probe refused with 429 would take a healthy server
    # out of rotation, and the check costs less than counting it would.
    throttle_classes: list[type] = []

    @extend_schema(
        operation_id="health",
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            **error_responses(503),
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        connection.ensure_connection()
        return Response({"status": "ok"})
