"""The home feed."""

from django.db.models import Q, QuerySet

from plaza.accounts.models import User
from plaza.graph.models import Follow
from plaza.posts.models import Post


def feed_for_user(viewer: User) -> QuerySet[Post]:
    """Posts by the accounts `viewer` follows and by `viewer`, newest first.

    Post ids are time-sortable, so the paginator's keyset is the primary key alone and a deep
    page costs what the first one does. Each followed author's slice comes from the
    (author, id) index.
    """
    followed = Follow.objects.filter(follower=viewer).values("followee_id")
    return Post.objects.filter(Q(author_id__in=followed) | Q(author_id=viewer.pk)).select_related(
        "author"
    )
