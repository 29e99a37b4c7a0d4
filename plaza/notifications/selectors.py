from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import QuerySet

from plaza.accounts.models import User
from plaza.graph.models import Follow, FollowRequest
from plaza.graph.selectors import without_hidden
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Like, PostEdit, Repost
from plaza.tags.models import Mention


def visible_notifications(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications (or unread ones) less those whose actor the user mutes,
    blocks or is blocked by (plaza.graph.selectors.without_hidden), filtered inside the same
    statement. They are hidden, not deleted: unmuting or unblocking shows them again. The
    list, the unread count and marking read all start here, so they agree."""
    # One filter() call: each one clones the queryset and compiles its conditions again.
    if unread_only:
        mine = Notification.objects.filter(recipient=user, read=False)
    else:
        mine = Notification.objects.filter(recipient=user)
    return without_hidden(mine, user, "actor_id")


def notifications_for_user(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's visible notifications with actor and target loaded: one query for the page
    and one per kind of target present on it (at most seven), whatever the page's length."""
    notifications = visible_notifications(user, unread_only=unread_only)
    return notifications.select_related("actor", "target_type").prefetch_related(
        GenericPrefetch(
            "target",
            [
                Follow.objects.all(),
                FollowRequest.objects.all(),
                Like.objects.select_related("post"),
                Comment.objects.select_related("post"),
                Mention.objects.select_related("post"),
                PostEdit.objects.select_related("post"),
                Repost.objects.select_related("post"),
            ],
        )
    )


def unread_count_for_user(user: User) -> int:
    return visible_notifications(user, unread_only=True).count()
