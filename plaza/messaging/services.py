"""Every write to conversations: starting one, sending a message, reading, with their live
events."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Greatest, Lower
from django.http import Http404

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.events import publish
from plaza.core.exceptions import InvalidInput, NotPermitted
from plaza.graph.models import Block
from plaza.messaging.models import (
    MAX_PARTICIPANTS,
    MESSAGE_MAX_LENGTH,
    Conversation,
    ConversationMember,
    Message,
    participants_key,
)
from plaza.messaging.representations import message_data, read_state_data

MESSAGE_CREATED = "message.created"
CONVERSATION_READ = "conversation.read"


_BLOCKED_MESSAGE = "Someone in this conversation blocks you: you cannot write to them."


def _blocks(sender: User, account: str) -> Exists:
    """Whether the account the outer row's `account` column names blocks `sender`."""
    return Exists(Block.objects.filter(blocker_id=OuterRef(account), blocked=sender))


def _other_user_ids(creator: User, usernames: Iterable[str]) -> set[int]:
    """The ids of the active accounts named, besides the creator: every name must be one,
    and none may block the creator.

    Names are compared in lower case, as the unique index on lower(username) does, and read
    in one query. Usernames are ASCII, where Python's and the database's lower() agree; a
    name that is not ASCII is no one's (Python would lower the Kelvin sign to a "k")."""
    # Each name as first written, by its lower case (a name that is not ASCII stays as it is:
    # lowered, it could pass for someone else's).
    named = {name.lower() if name.isascii() else name: name for name in reversed(list(usernames))}
    named.pop(creator.username.lower(), None)
    names = set(named)
    if not names:
        raise InvalidInput(
            "Name at least one other person.", field="participants", code="cannot_message_self"
        )
    # Counted before any query: a list of thousands of names is refused without a lookup.
    if len(names) + 1 > MAX_PARTICIPANTS:
        raise InvalidInput(
            f"A conversation has at most {MAX_PARTICIPANTS} people, you included.",
            field="participants",
            code="too_many_participants",
        )
    found = {
        username: (pk, blocks_creator)
        for username, pk, blocks_creator in User.objects.filter(is_active=True)
        .annotate(username_lower=Lower("username"), blocks_creator=_blocks(creator, "pk"))
        .filter(username_lower__in=[name for name in names if name.isascii()])
        .values_list("username_lower", "pk", "blocks_creator")
    }
    missing = sorted(names - found.keys())
    if missing:
        messages = [f"No user named {named[name]!r}." for name in missing]
        raise InvalidInput(messages[0], field="participants", details=messages)
    if any(blocks_creator for _pk, blocks_creator in found.values()):
        raise NotPermitted(
            "Someone you named blocks you: you cannot write to them.", code="blocked"
        )
    return {pk for pk, _blocks_creator in found.values()}


def conversation_get_or_create(
    *, creator: User, usernames: Iterable[str]
) -> tuple[Conversation, bool]:
    """The conversation between the creator and the people named, made if it does not exist
    yet. Returns it and whether it is new. Names match regardless of case, repeats collapse,
    and naming yourself changes nothing: the same people always get the same conversation.
    Refused (403 `blocked`) when one of them blocks the creator."""
    member_ids = _other_user_ids(creator, usernames) | {creator.pk}

    def on_create(conversation: Conversation) -> None:
        # A new conversation sorts by its own (time-sortable) id until its first message.
        ConversationMember.objects.bulk_create(
            ConversationMember(
                conversation=conversation, user_id=user_id, last_activity_id=conversation.pk
            )
            # Participants are listed in the order they joined: the creator first, then the
            # others by account id (their order of sign-up), whatever order they were named in.
            for user_id in sorted(member_ids, key=lambda user_id: (user_id != creator.pk, user_id))
        )

    def still_possible() -> bool:
        # The IntegrityError was either a concurrent request creating the same conversation
        # (worth retrying: the retry reads it) or a participant deleted meanwhile (not).
        return User.objects.filter(pk__in=member_ids, is_active=True).count() == len(member_ids)

    try:
        return get_or_create_unique(
            Conversation,
            on_create=on_create,
            still_possible=still_possible,
            participants_key=participants_key(member_ids),
        )
    except IntegrityError as exc:
        raise InvalidInput(
            "One of these accounts no longer exists.", field="participants", code="gone"
        ) from exc


def _lock_member_ids(conversation_id: int, sender: User) -> dict[int, bool]:
    """Lock the conversation's row until the transaction ends and return its members' ids,
    each with whether that member blocks `sender` (none for a conversation that does not
    exist).

    Every message sent takes this lock first, so concurrent sends to one conversation run one
    after the other: the newest message stays `last_message`, and PostgreSQL never updates
    the same member rows in two orders at once (a deadlock). SQLite runs one write
    transaction at a time anyway."""
    list(Conversation.objects.select_for_update().filter(pk=conversation_id).values_list("pk"))
    return dict(
        ConversationMember.objects.filter(conversation_id=conversation_id)
        .annotate(blocks_sender=_blocks(sender, "user_id"))
        .values_list("user_id", "blocks_sender")
    )


def message_send(*, sender: User, conversation: Conversation, body: str) -> Message:
    """Post a message: the conversation moves to the top of every member's list, the sender
    has read up to it, and every other member hears of it live. Refused (403 `blocked`) when
    another member blocks the sender: in a group too, where the others could otherwise carry
    on hearing from someone one of them blocked. (Blocking someone does not stop you writing
    to them; they can block you back.)"""
    body = body.strip()
    if not body:
        raise InvalidInput("Write something.", field="body", code="invalid")
    if len(body) > MESSAGE_MAX_LENGTH:
        raise InvalidInput(
            f"Ensure this field has no more than {MESSAGE_MAX_LENGTH} characters.",
            field="body",
            code="invalid",
        )
    with transaction.atomic():
        member_ids = _lock_member_ids(conversation.pk, sender)
        if sender.pk not in member_ids:  # as absent as a conversation that does not exist
            raise Http404("No such conversation.")
        if any(member_ids.values()):
            raise NotPermitted(_BLOCKED_MESSAGE, code="blocked")
        message = Message.objects.create(conversation=conversation, sender=sender, body=body)
        # Greatest and the WHERE guard keep the newest message in place should ids from two
        # machines' clocks arrive out of order; under the lock that is all they can do.
        Conversation.objects.filter(pk=conversation.pk).filter(
            Q(last_message__isnull=True) | Q(last_message_id__lt=message.pk)
        ).update(last_message=message)
        # One statement for every member: the activity for all, the read marker for the
        # sender (who has obviously seen the conversation up to their own message).
        ConversationMember.objects.filter(conversation_id=conversation.pk).update(
            last_activity_id=Greatest(F("last_activity_id"), Value(message.pk)),
            last_read_message_id=Case(
                When(
                    user_id=sender.pk,
                    then=Greatest(Coalesce(F("last_read_message_id"), Value(0)), Value(message.pk)),
                ),
                default=F("last_read_message_id"),
            ),
        )
        publish(
            (user_id for user_id in member_ids if user_id != sender.pk),
            MESSAGE_CREATED,
            message_data(message),
            event_id=str(message.pk),
        )
    return message


def conversation_mark_read(*, user: User, conversation: Conversation) -> int | None:
    """Mark the conversation read up to its newest message (as `conversation` was loaded: a
    message arriving meanwhile stays unread, as it should). Returns the user's read marker.
    The participants, the reader's other devices included, hear of it when it moved."""
    newest = conversation.last_message_id
    with transaction.atomic():
        markers = dict(
            ConversationMember.objects.filter(conversation_id=conversation.pk).values_list(
                "user_id", "last_read_message_id"
            )
        )
        if user.pk not in markers:
            raise Http404("No such conversation.")
        marker = markers[user.pk]
        if newest is None or (marker is not None and marker >= newest):
            return marker
        # The guard lets a concurrent read that went further win: markers never go back.
        moved = (
            ConversationMember.objects.filter(conversation_id=conversation.pk, user=user)
            .filter(Q(last_read_message_id__isnull=True) | Q(last_read_message_id__lt=newest))
            .update(last_read_message_id=newest)
        )
        if not moved:
            return (
                ConversationMember.objects.filter(conversation_id=conversation.pk, user=user)
                .values_list("last_read_message_id", flat=True)
                .first()
            )
        # No event id: the event is about no new object a client could list ?since=, and
        # reusing the message's id would make it look like a repeat of `message.created`.
        publish(
            markers.keys(),
            CONVERSATION_READ,
            read_state_data(
                conversation_id=conversation.pk, reader=user, last_read_message_id=newest
            ),
        )
    return newest
