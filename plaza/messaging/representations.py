"""Conversations, messages and read states as JSON, for the REST answers and the live events alike.

A live event carries the object as the REST API renders it (plaza.core.events), and the
services build the events: both faces call these functions, so the two cannot drift apart.
Built as plain dicts, as the hot REST serializers are (see plaza.core.representations).
"""

from typing import Any

from rest_framework.request import Request

from plaza.accounts.models import User
from plaza.accounts.representations import user_summary
from plaza.core.representations import iso_datetime
from plaza.messaging.models import Message
from plaza.messaging.selectors import ConversationSummary


def message_data(message: Message, request: Request | None = None) -> dict[str, Any]:
    """A message. `message.sender` must be loaded (select_related, or the sender's own
    instance), or rendering costs a query."""
    return {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "sender": user_summary(message.sender, request),
        "body": message.body,
        "created_at": iso_datetime(message.created_at),
    }


def read_state_data(
    *,
    conversation_id: int,
    reader: User,
    last_read_message_id: int | None,
    request: Request | None = None,
) -> dict[str, Any]:
    """How far someone has read a conversation: the answer to marking it read, and the
    `conversation.read` event its other participants (and the reader's other devices) get."""
    return {
        "conversation_id": str(conversation_id),
        "user": user_summary(reader, request),
        "last_read_message_id": (
            None if last_read_message_id is None else str(last_read_message_id)
        ),
    }


def conversation_data(
    summary: ConversationSummary, request: Request | None = None
) -> dict[str, Any]:
    """A conversation as one participant sees it (plaza.messaging.selectors)."""
    conversation = summary.conversation
    last_message = conversation.last_message
    return {
        "id": str(conversation.pk),
        "participants": [user_summary(user, request) for user in summary.participants],
        "last_message": None if last_message is None else message_data(last_message, request),
        "unread_count": summary.unread_count,
        "last_read_message_id": (
            None if summary.last_read_message_id is None else str(summary.last_read_message_id)
        ),
        "created_at": iso_datetime(conversation.created_at),
    }
