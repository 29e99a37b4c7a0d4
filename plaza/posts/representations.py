"""Posts as JSON, for the REST answers and the live `feed.post` event alike.

Both faces call these functions, so the two cannot drift apart; the REST face declares the
fields for the OpenAPI schema (plaza.rest.posts.PostSerializer) and tests/test_representations.py
validates what both send against it. Built as plain dicts (see plaza.core.representations).
"""

from typing import Any

from rest_framework.request import Request

from plaza.accounts.models import User
from plaza.accounts.representations import user_summary
from plaza.core.representations import iso_datetime
from plaza.media.models import MediaAttachment
from plaza.media.representations import media_data
from plaza.media.selectors import attachments_by_post
from plaza.posts.models import Post, PostEdit
from plaza.posts.selectors import ViewerMarks, viewer_marks


def post_data(
    post: Post,
    *,
    attachments: list[MediaAttachment],
    request: Request | None = None,
    marks: ViewerMarks | None = None,
) -> dict[str, Any]:
    """A post, with its `attachments` in order (see `attachments_by_post`). `marks` holds the
    posts the viewer likes, bookmarks, pins and reposts among those rendered with it; None
    for an anonymous viewer, whose `*_by_me` are null.
    `post.author` must be loaded, or rendering costs a query."""
    return {
        "id": str(post.pk),
        "author": user_summary(post.author, request),
        "title": post.title,
        "content": post.content,
        "spoiler_text": post.spoiler_text,
        "sensitive": post.sensitive,
        "entities": post.entities,
        "visibility": post.visibility,
        "media_attachments": [media_data(media, request) for media in attachments],
        "created_at": iso_datetime(post.created_at),
        "updated_at": iso_datetime(post.updated_at),
        "edited_at": None if post.edited_at is None else iso_datetime(post.edited_at),
        "likes_count": post.likes_count,
        "comments_count": post.comments_count,
        "reposts_count": post.reposts_count,
        "liked_by_me": None if marks is None else post.pk in marks.liked,
        "bookmarked_by_me": None if marks is None else post.pk in marks.bookmarked,
        "pinned_by_me": None if marks is None else post.pk in marks.pinned,
        "reposted_by_me": None if marks is None else post.pk in marks.reposted,
    }


def posts_data(
    posts: list[Post], *, viewer: User | None, request: Request | None = None
) -> list[dict[str, Any]]:
    """A page of posts as `viewer` sees them, with their attachments, and the viewer's likes
    and bookmarks among them, each loaded in one query for the whole page."""
    marks = None if viewer is None else viewer_marks(viewer=viewer, posts=posts)
    attachments = attachments_by_post(posts)
    return [
        post_data(post, attachments=attachments.get(post.pk, []), request=request, marks=marks)
        for post in posts
    ]


def new_post_data(post: Post, *, request: Request | None = None) -> dict[str, Any]:
    """A post just published, as its author's answer and the live events show it: liked and
    kept by nobody yet, so only its attachments are loaded (one query)."""
    attachments = attachments_by_post([post]).get(post.pk, [])
    return post_data(post, attachments=attachments, request=request, marks=ViewerMarks())


def post_versions_data(
    versions: list[PostEdit], *, request: Request | None = None
) -> list[dict[str, Any]]:
    """A page of a post's history, each version with the pictures it had (one query for the
    page; a picture deleted since is left out)."""
    wanted = {media_id for version in versions for media_id in version.media_ids}
    media = {item.pk: item for item in MediaAttachment.objects.filter(pk__in=wanted)}
    return [
        {
            "title": version.title,
            "content": version.content,
            "spoiler_text": version.spoiler_text,
            "sensitive": version.sensitive,
            "entities": version.entities,
            "media_attachments": [
                media_data(media[media_id], request)
                for media_id in version.media_ids
                if media_id in media
            ],
            "created_at": iso_datetime(version.created_at),
        }
        for version in versions
    ]
