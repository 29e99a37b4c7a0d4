"""Everything an account owns, as one JSON-ready document (GET /api/me/export/).

What the user made (profile, posts, comments, likes, bookmarks, pins, uploads with the URLs of
their files, follows and follow requests, blocks, mutes, devices), what was sent to them
(notifications, follow requests) and the conversations they are in, with every message of
those conversations: the other participants' messages are part of the user's own
correspondence.
Ids are strings, as in the REST API; times are ISO 8601 in UTC.
"""

from typing import Any

from django.utils import timezone
from rest_framework.request import Request

from plaza.accounts.models import AuthToken, User
from plaza.accounts.representations import user_summary
from plaza.core.representations import file_url, iso_datetime
from plaza.graph.models import Block, Follow, FollowRequest, Mute
from plaza.media.models import MediaAttachment
from plaza.media.representations import media_data
from plaza.messaging.models import ConversationMember, Message
from plaza.notifications.models import Notification
from plaza.posts.models import Bookmark, Comment, Like, Pin, Post, Repost

EXPORT_FORMAT_VERSION = 1


def account_export(user: User, request: Request | None = None) -> dict[str, Any]:
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": iso_datetime(timezone.now()),
        "account": {
            **user_summary(user, request),
            "email": user.email,
            "email_verified": user.email_verified,
            "is_private": user.is_private,
            "bio": user.bio,
            "header": file_url(user.header, request),
            "profile_fields": user.profile_fields,
            "created_at": iso_datetime(user.date_joined),
        },
        "devices": [
            {
                "hint": token.hint,
                "device": token.device,
                "created_at": iso_datetime(token.created_at),
                "last_used_at": iso_datetime(token.last_used_at),
            }
            for token in AuthToken.objects.filter(user=user).order_by("id")
        ],
        "posts": [
            {
                "id": str(post.pk),
                "title": post.title,
                "content": post.content,
                "spoiler_text": post.spoiler_text,
                "sensitive": post.sensitive,
                "visibility": post.visibility,
                "created_at": iso_datetime(post.created_at),
                "updated_at": iso_datetime(post.updated_at),
                "edited_at": None if post.edited_at is None else iso_datetime(post.edited_at),
                "likes_count": post.likes_count,
                "comments_count": post.comments_count,
                "reposts_count": post.reposts_count,
            }
            for post in Post.objects.filter(author=user).order_by("id").iterator()
        ],
        "comments": [
            {
                "id": str(comment.pk),
                "post_id": str(comment.post_id),
                "content": comment.content,
                "created_at": iso_datetime(comment.created_at),
                "updated_at": iso_datetime(comment.updated_at),
            }
            for comment in Comment.objects.filter(author=user).order_by("id").iterator()
        ],
        "likes": _kept(Like.objects.filter(user=user)),
        "reposts": _kept(Repost.objects.filter(user=user)),
        "bookmarks": _kept(Bookmark.objects.filter(user=user)),
        "pins": _kept(Pin.objects.filter(user=user)),
        "media": [
            {
                **media_data(media, request),
                "post_id": None if media.post_id is None else str(media.post_id),
                "created_at": iso_datetime(media.created_at),
            }
            for media in MediaAttachment.objects.filter(owner=user).order_by("id")
        ],
        "following": _follows(Follow.objects.filter(follower=user), "followee__username"),
        "followers": _follows(Follow.objects.filter(followee=user), "follower__username"),
        "follow_requests_sent": _listed(
            FollowRequest.objects.filter(requester=user), "target__username", "requested_at"
        ),
        "follow_requests_received": _listed(
            FollowRequest.objects.filter(target=user), "requester__username", "requested_at"
        ),
        "blocking": _listed(Block.objects.filter(blocker=user), "blocked__username", "blocked_at"),
        "muting": _listed(Mute.objects.filter(muter=user), "muted__username", "muted_at"),
        "notifications": [
            {
                "id": str(pk),
                "type": kind,
                "actor": actor,
                "read": read,
                "created_at": iso_datetime(created_at),
            }
            for pk, kind, actor, read, created_at in Notification.objects.filter(recipient=user)
            .order_by("id")
            .values_list("pk", "kind", "actor__username", "read", "created_at")
        ],
        "conversations": _conversations(user),
    }


def _kept(rows: Any) -> list[dict[str, str]]:
    """The posts the user liked, reposted, bookmarked or pinned, in the order they did."""
    return [
        {"post_id": str(post_id), "created_at": iso_datetime(created_at)}
        for post_id, created_at in rows.order_by("id").values_list("post_id", "created_at")
    ]


def _follows(follows: Any, username_path: str) -> list[dict[str, str]]:
    return _listed(follows, username_path, "followed_at")


def _listed(rows: Any, username_path: str, since: str) -> list[dict[str, str]]:
    return [
        {"username": username, since: iso_datetime(created_at)}
        for username, created_at in rows.order_by("id").values_list(username_path, "created_at")
    ]


def _conversations(user: User) -> list[dict[str, Any]]:
    conversation_ids = list(
        ConversationMember.objects.filter(user=user)
        .order_by("conversation_id")
        .values_list("conversation_id", flat=True)
    )
    participants: dict[int, list[str]] = {pk: [] for pk in conversation_ids}
    for conversation_id, username in (
        ConversationMember.objects.filter(conversation_id__in=conversation_ids)
        .order_by("user__username")
        .values_list("conversation_id", "user__username")
    ):
        participants[conversation_id].append(username)
    messages: dict[int, list[dict[str, str]]] = {pk: [] for pk in conversation_ids}
    for pk, conversation_id, sender, body, created_at in (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .order_by("id")
        .values_list("pk", "conversation_id", "sender__username", "body", "created_at")
        .iterator()
    ):
        messages[conversation_id].append(
            {
                "id": str(pk),
                "sender": sender,
                "body": body,
                "created_at": iso_datetime(created_at),
            }
        )
    return [
        {"id": str(pk), "participants": participants[pk], "messages": messages[pk]}
        for pk in conversation_ids
    ]
