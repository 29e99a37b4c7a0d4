"""Reads of media attachments."""

from collections.abc import Iterable
from typing import cast

from django.http import Http404

from plaza.accounts.models import User
from plaza.media.models import MediaAttachment
from plaza.posts.models import Post


def media_of_owner(media_id: int, *, viewer: User) -> MediaAttachment:
    """One of the viewer's own uploads; 404 for anyone else's, as for one that does not
    exist. Others see an attachment through the post it is on."""
    media = MediaAttachment.objects.filter(pk=media_id, owner=viewer).first()
    if media is None:
        raise Http404("No such upload of yours.")
    return media


def attachments_by_post(posts: Iterable[Post]) -> dict[int, list[MediaAttachment]]:
    """The attachments of each of `posts`, in their order: one query for a whole page, none
    for an empty one."""
    ids = [post.pk for post in posts]
    attachments: dict[int, list[MediaAttachment]] = {}
    if not ids:
        return attachments
    for media in MediaAttachment.objects.filter(post_id__in=ids).order_by("post_id", "position"):
        # Never None: the filter names posts.
        attachments.setdefault(cast(int, media.post_id), []).append(media)
    return attachments
