"""Following and unfollowing: the rows, both users' counters and the notification, in one
transaction."""

from django.db import IntegrityError, transaction
from django.db.models import F

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.exceptions import InvalidInput
from plaza.feed import services as feed_services
from plaza.graph.models import Follow
from plaza.notifications.models import NotificationKind
from plaza.notifications.services import notification_create


def _adjust_follow_counters(*, follower_id: int, followee_id: int, delta: int) -> None:
    # Rows are updated in primary-key order so that A following B while B follows A cannot
    # deadlock on PostgreSQL.
    updates = {
        follower_id: {"following_count": F("following_count") + delta},
        followee_id: {"followers_count": F("followers_count") + delta},
    }
    for user_id in sorted(updates):
        User.objects.filter(pk=user_id).update(**updates[user_id])


def follow_create(*, follower: User, followee: User) -> tuple[Follow, bool]:
    """Make `follower` follow `followee`. Returns the follow and whether it is new; following
    someone already followed changes nothing."""
    if follower.pk == followee.pk:
        raise InvalidInput("You cannot follow yourself.", code="cannot_follow_self")

    def on_create(follow: Follow) -> None:
        _adjust_follow_counters(follower_id=follower.pk, followee_id=followee.pk, delta=1)
        notification_create(
            recipient_id=followee.pk, actor=follower, kind=NotificationKind.FOLLOW, target=follow
        )
        feed_services.following_changed(follower.pk)

    try:
        return get_or_create_unique(
            Follow,
            on_create=on_create,
            still_possible=User.objects.filter(pk=followee.pk, is_active=True).exists,
            follower=follower,
            followee=followee,
        )
    except IntegrityError as exc:  # the followee was deleted while we were writing
        raise InvalidInput("This account no longer exists.", code="gone") from exc


def follow_delete(*, follower: User, followee: User) -> bool:
    """Stop following. Returns whether there was a follow to remove."""
    with transaction.atomic():
        _total, per_model = Follow.objects.filter(follower=follower, followee=followee).delete()
        removed = per_model.get(Follow._meta.label, 0) > 0
        if removed:
            _adjust_follow_counters(follower_id=follower.pk, followee_id=followee.pk, delta=-1)
            feed_services.following_changed(follower.pk)
    return removed
