from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone

from plaza.core.models import SnowflakeIdField

MESSAGE_MAX_LENGTH = 5000
# People in one conversation, its creator included. A direct message is not a broadcast
# channel: every message updates every member's row, and reaches every member live.
MAX_PARTICIPANTS = 20
# Sorted user ids joined by commas: at most 19 digits and a comma per participant.
PARTICIPANTS_KEY_MAX_LENGTH = MAX_PARTICIPANTS * 20


def participants_key(user_ids: Iterable[int]) -> str:
    """The one key a set of people maps to, whoever starts the conversation and in
    whatever order they are named."""
    return ",".join(str(user_id) for user_id in sorted(set(user_ids)))


class Conversation(models.Model):
    """A conversation between a fixed set of people (two for a one-to-one, up to
    MAX_PARTICIPANTS for a group). The same set of people always has the same conversation:
    `participants_key` is unique, so concurrent "start a conversation" requests cannot make a
    second one."""

    id = SnowflakeIdField()
    participants_key = models.CharField(max_length=PARTICIPANTS_KEY_MAX_LENGTH, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Kept by plaza.messaging.services.message_send, so a page of conversations renders its
    # previews with a join instead of a "newest message of each" query.
    last_message = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class ConversationMember(models.Model):
    """One participant of a conversation, with what is personal to them: how far they have
    read, and a copy of the conversation's activity so that their list of conversations is
    read from one index."""

    id = SnowflakeIdField()
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="members",
        db_index=False,  # covered by the unique (conversation, user) constraint
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversation_memberships",
        db_index=False,  # covered by the (user, -last_activity_id) index
    )
    # The id of the newest message, or the conversation's own id while it has none: ids are
    # time-sortable, so "newest activity first" is ORDER BY this DESC, and cursor pagination
    # works on it as on any id. Denormalised from the conversation (message_send updates every
    # member's row) so that the list is one index range per user.
    last_activity_id = models.BigIntegerField()
    # The newest message this member has read; null until they read or write one. A marker,
    # not a foreign key: nothing needs to cascade from it.
    last_read_message_id = models.BigIntegerField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="conversation_member_unique"
            ),
        ]
        indexes = [
            # "My conversations, newest activity first", and its cursor.
            models.Index(fields=["user", "-last_activity_id"], name="member_user_activity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    id = SnowflakeIdField()
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages_sent"
    )
    body = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A conversation's messages newest first (and oldest first from ?since=). The
            # sender makes it covering for the unread count ("messages by others after my
            # marker"), which then never reads a message row. Replaces the plain index on
            # conversation.
            models.Index(
                fields=["conversation", "-id", "sender"], name="message_conversation_id_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} in {self.conversation_id}: {self.body[:40]}"
