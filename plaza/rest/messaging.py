"""Direct messages: conversations, their messages, reading them.

Every conversation endpoint answers 404, never 403, to someone who does not take part in the
conversation: an outsider cannot tell it from one that does not exist.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts.models import USERNAME_MAX_LENGTH, username_validator
from plaza.core.pagination import CatchUpPagination, IdCursorPagination
from plaza.messaging import selectors, services
from plaza.messaging.models import MESSAGE_MAX_LENGTH, ConversationMember, Message
from plaza.messaging.representations import conversation_data, message_data, read_state_data
from plaza.messaging.selectors import ConversationSummary
from plaza.rest.common import (
    UserSummarySerializer,
    error_responses,
    signed_in_user,
)
from plaza.rest.permissions import VerifiedEmailToCreate


class ActivityCursorPagination(IdCursorPagination):
    """Conversations, newest activity first: the cursor is the id of a conversation's last
    message (or of the conversation itself, before its first message)."""

    ordering = "-last_activity_id"


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    conversation_id = serializers.CharField(read_only=True)
    sender = UserSummarySerializer(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "conversation_id", "sender", "body", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return message_data(instance, self.context.get("request"))


class ConversationSerializer(serializers.Serializer):
    """A conversation as the viewer sees it. `participants` includes the viewer."""

    id = serializers.CharField(source="conversation.pk")
    participants = UserSummarySerializer(many=True)
    last_message = MessageSerializer(source="conversation.last_message", allow_null=True)
    unread_count = serializers.IntegerField(help_text="Messages by others you have not read.")
    last_read_message_id = serializers.CharField(
        allow_null=True, help_text="The newest message you have read, if any."
    )
    created_at = serializers.DateTimeField(source="conversation.created_at")

    def to_representation(self, instance: ConversationSummary) -> dict[str, Any]:
        return conversation_data(instance, self.context.get("request"))


class ConversationCreateSerializer(serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.CharField(
            max_length=USERNAME_MAX_LENGTH, validators=[username_validator]
        ),
        allow_empty=False,
        help_text="Usernames of the other people (any case). You are always included; "
        "naming yourself or someone twice changes nothing.",
    )


class MessageWriteSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MESSAGE_MAX_LENGTH)


class ReadStateSerializer(serializers.Serializer):
    conversation_id = serializers.CharField()
    user = UserSummarySerializer()
    last_read_message_id = serializers.CharField(allow_null=True)


def render_conversations(request: Request, members: list[ConversationMember]) -> Any:
    summaries = selectors.conversation_summaries(members)
    return ConversationSerializer(summaries, many=True, context={"request": request}).data


class ConversationListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    serializer_class = ConversationSerializer
    pagination_class = ActivityCursorPagination

    def get_queryset(self) -> QuerySet[ConversationMember]:
        return selectors.conversations_for_user(signed_in_user(self.request))

    @extend_schema(
        operation_id="conversations_list",
        responses={200: ConversationSerializer(many=True), **error_responses(400, 401)},
        description="Your conversations, newest activity first (one without messages by "
        "when it was started), each with its last message and your unread count.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(render_conversations(request, page))

    @extend_schema(
        operation_id="conversations_create",
        request=ConversationCreateSerializer,
        responses={
            201: ConversationSerializer,
            200: ConversationSerializer,
            **error_responses(400, 401, 403),
        },
        description="Start a conversation with these people, or get the one you already have "
        "with exactly them: 201 when new, 200 when it existed; 403 `blocked` when one of them "
        "blocks you.",
    )
    def post(self, request: Request) -> Response:
        data = ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request)
        conversation, created = services.conversation_get_or_create(
            creator=user, usernames=data.validated_data["participants"]
        )
        summary = selectors.conversation_summary(user, conversation.pk)
        return Response(
            ConversationSerializer(summary, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_retrieve",
        responses={200: ConversationSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        summary = selectors.conversation_summary(signed_in_user(request), conversation_id)
        return Response(ConversationSerializer(summary, context={"request": request}).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="conversations_messages_list",
        responses={200: MessageSerializer(many=True), **error_responses(400, 401, 404)},
        description="The conversation's messages, newest first; with `?since=<message id>`, "
        "the messages after it, oldest first.",
    )
)
class ConversationMessagesView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    serializer_class = MessageSerializer
    # ?since=<message id> (the last message.created event's id) catches up, oldest first.
    pagination_class = CatchUpPagination

    def get_queryset(self) -> QuerySet[Message]:
        # Runs before the paginator reads ?since= or the cursor: an outsider gets the 404,
        # never a 400 that would tell them the conversation exists.
        conversation = selectors.conversation_for_participant(
            signed_in_user(self.request), self.kwargs["conversation_id"]
        )
        return selectors.messages_in(conversation)

    @extend_schema(
        operation_id="conversations_messages_create",
        request=MessageWriteSerializer,
        responses={201: MessageSerializer, **error_responses(400, 401, 403, 404)},
        description="Send a message. The other participants get a `message.created` event. "
        "403 `blocked` when another participant blocks you.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        user = signed_in_user(request)
        conversation = selectors.conversation_for_participant(user, conversation_id)
        data = MessageWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_send(
            sender=user, conversation=conversation, body=data.validated_data["body"]
        )
        return Response(message_data(message, request), status=status.HTTP_201_CREATED)


class ConversationReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_mark_read",
        request=None,
        responses={200: ReadStateSerializer, **error_responses(401, 404)},
        description="Mark the conversation read up to its newest message. The participants "
        "(and your other devices) get a `conversation.read` event when your marker moved.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        user = signed_in_user(request)
        conversation = selectors.conversation_for_participant(user, conversation_id)
        last_read = services.conversation_mark_read(user=user, conversation=conversation)
        return Response(
            read_state_data(
                conversation_id=conversation.pk,
                reader=user,
                last_read_message_id=last_read,
                request=request,
            )
        )
