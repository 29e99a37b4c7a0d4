"""Creating and reading-state changes of notifications."""

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import Http404

from plaza.accounts.models import User
from plaza.notifications.models import Notification, NotificationKind
from plaza.notifications.selectors import visible_notifications
from plaza.realtime import services as realtime_services


def notification_create(
    *, recipient_id: int, actor: User, kind: NotificationKind, target: models.Model
) -> Notification | None:
    """Record that `actor` did `kind` to something of `recipient`'s. Called inside the
    transaction of the event itself, so both commit or neither does. Nothing is recorded for
    one's own actions on one's own things."""
    if recipient_id == actor.pk:
        return None
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        actor=actor,
        kind=kind,
        target_type=ContentType.objects.get_for_model(target),
        target_id=target.pk,
    )
    realtime_services.notification_created(notification.pk, recipient_id)
    return notification


def notification_mark_read(*, user: User, notification_id: int) -> None:
    """Mark one of the user's notifications read (again, if it already was). One statement:
    the recipient is part of its WHERE, so someone else's notification is as absent as a
    missing one, and so is one the user does not see (its actor muted or blocked)."""
    if not visible_notifications(user).filter(pk=notification_id).update(read=True):
        raise Http404("No such notification.")
    realtime_services.unread_count_changed(user.pk)


def notifications_mark_all_read(*, user: User) -> int:
    """Mark every notification the user sees read. Hidden ones stay as they were, so that
    unmuting someone shows their notifications as they were left."""
    updated = visible_notifications(user, unread_only=True).update(read=True)
    if updated:
        realtime_services.unread_count_changed(user.pk)
    return updated
