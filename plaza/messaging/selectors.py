"""Reads of conversations and messages. A page of conversations costs two queries whatever
its length: the page (with each conversation's last message, its sender and the viewer's
unread count) and the page's participants."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from plaza.accounts.models import User
from plaza.messaging.models import Conversation, ConversationMember, Message


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as one participant sees it."""

    conversation: Conversation
    participants: list[User]
    unread_count: int
    last_read_message_id: int | None


def _unread_count() -> Coalesce:
    """Messages by others after the member's read marker, for each row of a member query: a
    range of the covering (conversation, -id, sender) index per conversation."""
    unread = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            id__gt=Coalesce(OuterRef("last_read_message_id"), Value(0)),
        )
        .exclude(sender_id=OuterRef("user_id"))
        .order_by()
        .values("conversation_id")
        .annotate(count=Count("*"))
        .values("count")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))


def conversations_for_user(user: User) -> QuerySet[ConversationMember]:
    """The user's memberships, to be paged newest activity first (by `last_activity_id`),
    each with its conversation, last message and sender joined and `unread_count`
    annotated. `conversation_summaries` turns a page of them into summaries."""
    return (
        ConversationMember.objects.filter(user=user)
        .select_related("conversation__last_message__sender")
        .annotate(unread_count=_unread_count())
    )


def conversation_summaries(members: Sequence[ConversationMember]) -> list[ConversationSummary]:
    """Summaries of a page of `conversations_for_user`, with every participant of the page
    loaded in one query."""
    participants: dict[int, list[User]] = defaultdict(list)
    if members:
        everyone = (
            ConversationMember.objects.filter(
                conversation_id__in=[member.conversation_id for member in members]
            )
            .select_related("user")
            .order_by("id")  # the order they joined
        )
        for member in everyone:
            participants[member.conversation_id].append(member.user)
    return [
        ConversationSummary(
            conversation=member.conversation,
            participants=participants[member.conversation_id],
            unread_count=member.unread_count,  # type: ignore[attr-defined]
            last_read_message_id=member.last_read_message_id,
        )
        for member in members
    ]


def conversation_summary(user: User, conversation_id: int) -> ConversationSummary:
    """One conversation as `user` sees it; 404 unless they take part in it."""
    member = conversations_for_user(user).filter(conversation_id=conversation_id).first()
    if member is None:
        raise Http404("No such conversation.")
    return conversation_summaries([member])[0]


def conversation_for_participant(user: User, conversation_id: int) -> Conversation:
    """The conversation, if `user` takes part in it; otherwise 404, exactly as for one that
    does not exist, so that outsiders cannot learn which conversations exist."""
    conversation = Conversation.objects.filter(pk=conversation_id, members__user=user).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def messages_in(conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages with their senders, to be paged by id either way."""
    return Message.objects.filter(conversation=conversation).select_related("sender")
