from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from plaza.core.models import SnowflakeIdField


class NotificationKind(models.TextChoices):
    FOLLOW = "follow", "follow"
    LIKE = "like", "like"
    COMMENT = "comment", "comment"
    FOLLOW_REQUEST = "follow_request", "follow request"
    MENTION = "mention", "mention"
    UPDATE = "update", "update"  # a post one liked or reposted was edited
    REPOST = "repost", "repost"


class Notification(models.Model):
    """Something happened that concerns `recipient`.

    `target` is the event's own row (the Follow, Like, Comment, FollowRequest, Mention,
    PostEdit or Repost), through a generic relation.
    Pointing at the event rather than at the post makes "exactly one notification per event"
    a unique constraint, and undoing the event (unlike, unfollow, deleting the comment)
    removes its notification through the GenericRelation on each event model.
    """

    id = SnowflakeIdField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # covered by the (recipient, id) indexes below
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    target_type = models.ForeignKey(
        ContentType,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the one-per-event unique constraint starts with it
    )
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id", "recipient"],
                name="notification_one_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient_idx"),
            # Unread lists and the unread counter touch only unread rows. The actor makes it
            # covering for the counter, which leaves out muted and blocked actors' rows.
            models.Index(
                fields=["recipient", "-id", "actor"],
                condition=Q(read=False),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id} by {self.actor_id}"
