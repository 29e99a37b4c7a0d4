from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from plaza.core.models import SnowflakeIdField


class Follow(models.Model):
    """`follower` follows `followee`. At most one row per pair, never oneself: both are
    database constraints, so concurrent requests cannot break them."""

    id = SnowflakeIdField()
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="following_set",
        db_index=False,  # the unique pair and the (follower, id) index both start with it
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="follower_set",
        db_index=False,  # covered by the (followee, id) index below
    )
    created_at = models.DateTimeField(default=timezone.now)

    # Deleting a follow (unfollow, or a user's deletion) deletes its notification.
    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique_pair"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [
            # "Who follows X", newest first; carrying the follower makes it covering for
            # fan-out, which reads every follower id of an author (75,000 scattered table
            # rows for a large account otherwise: 0.25 s vs 0.05 s measured in bench/).
            models.Index(fields=["followee", "-id", "follower"], name="follow_followee_id_idx"),
            # "Whom does X follow", newest first (the unique pair serves the feed's lookups).
            models.Index(fields=["follower", "-id"], name="follow_follower_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"


class Block(models.Model):
    """`blocker` blocks `blocked`: no follows between them either way, the blocked cannot
    act on the blocker (follow, like, comment, message) nor see their posts, and each stops
    seeing the other's posts and notifications. At most one row per pair, never oneself:
    database constraints, as for follows. The rules live in plaza.graph.services (writes)
    and the selectors that read posts, comments and notifications."""

    id = SnowflakeIdField()
    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_made",
        db_index=False,  # the unique pair and the (blocker, id) index both start with it
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_received",
        db_index=False,  # covered by the (blocked, blocker) index below
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]
        indexes = [
            # "Whom did I block", newest first (GET /api/me/blocks/).
            models.Index(fields=["blocker", "-id"], name="block_blocker_id_idx"),
            # "Who blocked me": read with every filtered list of posts, comments and
            # notifications, covering so that it never touches the table.
            models.Index(fields=["blocked", "blocker"], name="block_blocked_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class Mute(models.Model):
    """`muter` mutes `muted`: the muted account's posts, comments and notifications
    disappear for the muter, who may keep following them. The muted account is not told and
    nothing else changes for it. One row per pair, never oneself."""

    id = SnowflakeIdField()
    muter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mutes_made",
        db_index=False,  # the unique pair and the (muter, id) index both start with it
    )
    muted = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mutes_received",
        db_index=False,  # covered by the (muted, muter) index below
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["muter", "muted"], name="mute_unique_pair"),
            models.CheckConstraint(condition=~Q(muter=F("muted")), name="mute_not_self"),
        ]
        indexes = [
            # "Whom did I mute", newest first (GET /api/me/mutes/).
            models.Index(fields=["muter", "-id"], name="mute_muter_id_idx"),
            # "Who muted this author": fan-out and live feed events skip them.
            models.Index(fields=["muted", "muter"], name="mute_muted_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.muter_id} mutes {self.muted_id}"


class FollowRequest(models.Model):
    """`requester` asked to follow `target`, a private account, which has not answered yet.
    Accepting turns it into a Follow, rejecting deletes it. One row per pair, never oneself;
    and never beside a Follow of the same pair (plaza.graph.services writes both under the
    pair's lock)."""

    id = SnowflakeIdField()
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="follow_requests_sent",
        db_index=False,  # the unique pair starts with it
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="follow_requests_received",
        db_index=False,  # covered by the (target, id) index below
    )
    created_at = models.DateTimeField(default=timezone.now)

    # Answering or withdrawing the request deletes the notification that announced it.
    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "target"], name="follow_request_unique_pair"
            ),
            models.CheckConstraint(
                condition=~Q(requester=F("target")), name="follow_request_not_self"
            ),
        ]
        indexes = [
            # "Who asks to follow me", newest first (GET /api/follow-requests/).
            models.Index(fields=["target", "-id"], name="follow_request_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.requester_id} asks to follow {self.target_id}"
