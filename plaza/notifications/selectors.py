from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import QuerySet

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Like


def notifications_for_user(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications with actor and target loaded: one query for the page and one
    per kind of target present on it (at most three), whatever the page's length."""
    notifications = Notification.objects.filter(recipient=user)
    if unread_only:
        notifications = notifications.filter(read=False)
    return notifications.select_related("actor", "target_type").prefetch_related(
        GenericPrefetch(
            "target",
            [
                Follow.objects.all(),
                Like.objects.select_related("post"),
                Comment.objects.select_related("post"),
            ],
        )
    )


def unread_count_for_user(user: User) -> int:
    return Notification.objects.filter(recipient=user, read=False).count()
