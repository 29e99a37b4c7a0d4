from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.core.health import broker_status, redis_status
from plaza.rest.common import error_responses

HEALTH_SCHEMA = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(
            choices=["ok", "degraded"],
            help_text="`degraded`: a component other than the database is down; the API still "
            "serves, reading from the database what it would read from Redis.",
        ),
        "components": inline_serializer(
            "HealthComponents",
            {
                "database": serializers.ChoiceField(
                    choices=["ok"], help_text="Always reported (when it is down: 503)."
                ),
                "redis": serializers.ChoiceField(
                    choices=["ok", "down"],
                    required=False,
                    help_text="With `REDIS_URL`: the Redis of the cache, rate limits, "
                    "WebSockets and home timelines.",
                ),
                "broker": serializers.ChoiceField(
                    choices=["ok", "down"],
                    required=False,
                    help_text="When background tasks go to Celery workers (`REDIS_URL`, "
                    "`CELERY_TASK_ALWAYS_EAGER` off): the broker they are queued on.",
                ),
            },
        ),
    },
)


class HealthView(APIView):
    """Liveness and the reachability of what this process uses (the database; with REDIS_URL,
    Redis and the Celery broker), for load balancers, monitoring and benchmarks' baseline."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    # Not rate limited: a load balancer's probe refused with 429 would take a healthy server
    # out of rotation, and the check costs less than counting it would.
    throttle_classes: list[type] = []

    @extend_schema(
        operation_id="health",
        description="200 while the database answers, `degraded` if Redis or the broker does "
        "not (each probed with a timeout of `REDIS_TIMEOUT_SECONDS`); 503 without the database.",
        responses={200: HEALTH_SCHEMA, **error_responses(503)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        connection.ensure_connection()  # down: 503 database_unavailable (plaza.core.errors)
        components = {"database": "ok"}
        # The embedded default uses neither, and probes nothing more (the benchmarks' baseline).
        if settings.REDIS_URL:
            components["redis"] = redis_status()
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                components["broker"] = broker_status()
        healthy = all(state == "ok" for state in components.values())
        return Response({"status": "ok" if healthy else "degraded", "components": components})
