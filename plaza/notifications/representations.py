"""Notifications as JSON, for the REST answers and the live `notification.created` event
alike: both faces call these functions (see plaza.posts.representations)."""

from typing import Any

from rest_framework.request import Request

from plaza.accounts.representations import user_summary
from plaza.core.representations import iso_datetime
from plaza.graph.models import Follow, FollowRequest
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Like, PostEdit, Repost, summarize
from plaza.tags.models import Mention


def notification_target(notification: Notification) -> dict[str, str] | None:
    """What the notification is about, as a client would link to it: the liked or reposted
    post, the new comment, the post that mentions the recipient or that was edited, the new
    follower's profile, or the follow request to answer."""
    event = notification.target
    if isinstance(event, Like | Repost | Mention | PostEdit):
        post = event.post
        return {"type": "post", "id": str(post.pk), "summary": summarize(post.summary_source)}
    if isinstance(event, Comment):
        return {
            "type": "comment",
            "id": str(event.pk),
            "summary": summarize(event.content),
            "post_id": str(event.post_id),
        }
    if isinstance(event, Follow):
        return {
            "type": "user",
            "id": str(event.follower_id),
            "summary": f"@{notification.actor.username}",
        }
    if isinstance(event, FollowRequest):
        return {
            "type": "follow_request",
            "id": str(event.pk),
            "summary": f"@{notification.actor.username}",
        }
    return None


def notification_data(notification: Notification, request: Request | None = None) -> dict[str, Any]:
    """A notification, loaded as plaza.notifications.selectors.notifications_for_user loads
    it (actor and target), or rendering costs queries."""
    return {
        "id": str(notification.pk),
        "type": notification.kind,
        "actor": user_summary(notification.actor, request),
        "target": notification_target(notification),
        "read": notification.read,
        "created_at": iso_datetime(notification.created_at),
    }
