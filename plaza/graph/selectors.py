from django.db.models import QuerySet

from plaza.accounts.models import User
from plaza.graph.models import Follow


def followers_of(user: User) -> QuerySet[Follow]:
    """Follows whose followee is `user`, with each follower joined."""
    return Follow.objects.filter(followee=user).select_related("follower")


def following_of(user: User) -> QuerySet[Follow]:
    """Follows whose follower is `user`, with each followed account joined."""
    return Follow.objects.filter(follower=user).select_related("followee")
