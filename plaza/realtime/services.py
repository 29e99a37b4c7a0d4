"""What the WebSockets must hear about other writes. Each function is called by the service
that owns the write, inside its transaction, and acts only after it commits."""

import logging
from functools import partial

from django.db import transaction

from plaza.accounts.models import User
from plaza.notifications import selectors as notification_selectors
from plaza.realtime.events import publish
from plaza.realtime.presence import presence

logger = logging.getLogger(__name__)


def _is_online(user_id: int) -> bool:
    try:
        return presence().is_online(user_id)
    except Exception:  # Redis down: nothing can be delivered either
        logger.warning("Real-time presence unavailable: live event skipped")
        return False


def _viewer(user_id: int) -> User | None:
    """The user as the selectors need a viewer: with the counters that say whether anyone
    is hidden from them (a bare `User(pk=...)` would claim nobody is)."""
    return User.objects.filter(pk=user_id).first()


def notification_created(notification_id: int, recipient_id: int) -> None:
    transaction.on_commit(partial(_publish_notification, notification_id, recipient_id))


def _publish_notification(notification_id: int, recipient_id: int) -> None:
    if not _is_online(recipient_id):
        return  # rendering it would be wasted: the REST list has it when they come back
    # The REST face's rendering, imported here: it depends on services that call this module.
    from plaza.rest.notifications import NotificationSerializer

    recipient = _viewer(recipient_id)
    if recipient is None:  # deleted meanwhile
        return
    notifications = notification_selectors.notifications_for_user(recipient)
    notification = notifications.filter(pk=notification_id).first()
    if notification is None:  # undone (an unlike) before it could be sent, or hidden
        return
    publish(
        [recipient_id],
        "notification.created",
        NotificationSerializer(notification).data,
        event_id=str(notification_id),
    )
    unread_count_changed(recipient_id)


def unread_count_changed(user_id: int) -> None:
    """Tell the user's open sessions their unread count (after a new notification, or after
    one session marked some read, so the others' badges agree)."""

    def send() -> None:
        viewer = _viewer(user_id) if _is_online(user_id) else None
        if viewer is not None:
            count = notification_selectors.unread_count_for_user(viewer)
            publish([user_id], "notifications.unread_count", {"count": count})

    transaction.on_commit(send)


def post_published(post_id: int) -> None:
    """A new post: its author's followers who are connected get `feed.post`."""
    from plaza.realtime.tasks import publish_post_to_followers

    def enqueue() -> None:
        try:
            publish_post_to_followers.delay(post_id)
        except Exception:  # the broker (Redis) is down: the post is safe, the nudge is lost
            logger.warning("Could not queue the live feed event of post %s", post_id)

    transaction.on_commit(enqueue)
