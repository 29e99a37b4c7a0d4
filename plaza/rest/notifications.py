"""Notifications: listing, unread count, marking read."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.core.pagination import CatchUpPagination
from plaza.notifications import selectors, services
from plaza.notifications.models import Notification
from plaza.notifications.representations import notification_data, notification_target
from plaza.rest.common import UserSummarySerializer, error_responses, signed_in_user


class NotificationTargetSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["post", "comment", "user", "follow_request"])
    id = serializers.CharField()
    summary = serializers.CharField()
    post_id = serializers.CharField(required=False, help_text="For comments: the post.")


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    type = serializers.CharField(source="kind", read_only=True)
    actor = UserSummarySerializer(read_only=True)
    target = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "type", "actor", "target", "read", "created_at"]
        read_only_fields = fields

    @extend_schema_field(NotificationTargetSerializer(allow_null=True))
    def get_target(self, notification: Notification) -> dict[str, str] | None:
        return notification_target(notification)

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        return notification_data(instance, self.context.get("request"))


class NotificationQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, default=False, help_text="Only unread notifications."
    )


@extend_schema_view(
    get=extend_schema(
        operation_id="notifications_list",
        parameters=[NotificationQuerySerializer],
        responses={200: NotificationSerializer(many=True), **error_responses(400, 401)},
        description="Your notifications, newest first.",
    )
)
class NotificationListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationSerializer
    pagination_class = CatchUpPagination

    def get_queryset(self) -> QuerySet[Notification]:
        query = NotificationQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.notifications_for_user(
            signed_in_user(self.request),
            unread_only=query.validated_data["unread"],
        )


class UnreadCountView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="notifications_unread_count",
        responses={
            200: inline_serializer("UnreadCount", {"count": serializers.IntegerField()}),
            **error_responses(401),
        },
    )
    def get(self, request: Request) -> Response:
        count = selectors.unread_count_for_user(signed_in_user(request))
        return Response({"count": count})


class MarkReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="notifications_mark_read",
        request=None,
        responses={200: NotificationSerializer, **error_responses(401, 404)},
    )
    def post(self, request: Request, notification_id: int) -> Response:
        user = signed_in_user(request)
        services.notification_mark_read(user=user, notification_id=notification_id)
        notification = selectors.notifications_for_user(user).filter(pk=notification_id).first()
        if notification is None:  # its event was undone (an unlike) in the meantime
            raise Http404("No such notification.")
        return Response(NotificationSerializer(notification, context={"request": request}).data)


class MarkAllReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="notifications_mark_all_read",
        request=None,
        responses={
            200: inline_serializer("MarkAllReadResult", {"updated": serializers.IntegerField()}),
            **error_responses(401),
        },
    )
    def post(self, request: Request) -> Response:
        updated = services.notifications_mark_all_read(user=signed_in_user(request))
        return Response({"updated": updated})
