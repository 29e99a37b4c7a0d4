"""Creating and reading-state changes of notifications, and the live events they send."""

from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import Http404

from plaza.accounts.models import User
from plaza.core.events import Event, publish_if_online
from plaza.notifications.models import Notification, NotificationKind
from plaza.notifications.representations import notification_data
from plaza.notifications.selectors import (
    notifications_for_user,
    unread_count_for_user,
    visible_notifications,
)

NOTIFICATION_CREATED = "notification.created"
UNREAD_COUNT = "notifications.unread_count"


def notification_create(
    *, recipient_id: int, actor: User, kind: NotificationKind, target: models.Model
) -> Notification | None:
    """Record that `actor` did `kind` to something of `recipient`'s, and once it commits tell
    the recipient's open WebSockets. Called inside the transaction of the event itself, so
    both commit or neither does. Nothing is recorded for one's own actions on one's own
    things."""
    if recipient_id == actor.pk:
        return None
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        actor=actor,
        kind=kind,
        target_type=ContentType.objects.get_for_model(target),
        target_id=target.pk,
    )
    # After commit, if the recipient is connected: the notification, then their unread count.
    publish_if_online(
        recipient_id, partial(_new_notification_events, recipient_id, notification.pk)
    )
    return notification


def notification_mark_read(*, user: User, notification_id: int) -> None:
    """Mark one of the user's notifications read (again, if it already was). One statement:
    the recipient is part of its WHERE, so someone else's notification is as absent as a
    missing one, and so is one the user does not see (its actor muted or blocked)."""
    if not visible_notifications(user).filter(pk=notification_id).update(read=True):
        raise Http404("No such notification.")
    _publish_unread_count(user.pk)


def notifications_mark_all_read(*, user: User) -> int:
    """Mark every notification the user sees read. Hidden ones stay as they were, so that
    unmuting someone shows their notifications as they were left."""
    updated = visible_notifications(user, unread_only=True).update(read=True)
    if updated:
        _publish_unread_count(user.pk)
    return updated


def _viewer(user_id: int) -> User | None:
    """The user as the selectors need a viewer: with the counters that say whether anyone
    is hidden from them (a bare `User(pk=...)` would claim nobody is)."""
    return User.objects.filter(pk=user_id).first()


def _new_notification_events(recipient_id: int, notification_id: int) -> list[Event]:
    """The new notification as the recipient's REST list renders it, and their new unread
    count; nothing if the recipient is gone, or the notification was undone (an unlike) or is
    hidden from them (its actor muted or blocked)."""
    recipient = _viewer(recipient_id)
    if recipient is None:
        return []
    notification = notifications_for_user(recipient).filter(pk=notification_id).first()
    if notification is None:
        return []
    return [
        Event(NOTIFICATION_CREATED, notification_data(notification), id=str(notification_id)),
        Event(UNREAD_COUNT, {"count": unread_count_for_user(recipient)}),
    ]


def _unread_count_events(user_id: int) -> list[Event]:
    viewer = _viewer(user_id)
    return [] if viewer is None else [Event(UNREAD_COUNT, {"count": unread_count_for_user(viewer)})]


def _publish_unread_count(user_id: int) -> None:
    """Tell the user's open sessions their unread count (after one session marked some read,
    so the others' badges agree)."""
    publish_if_online(user_id, partial(_unread_count_events, user_id))
