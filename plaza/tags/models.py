"""Hashtags, the posts that use them, who uses them each day (for trends), the tags accounts
follow, and mentions of accounts in posts."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils import timezone

from plaza.core.models import SnowflakeIdField
from plaza.posts.models import Post
from plaza.tags.parsing import TAG_MAX_LENGTH


class Tag(models.Model):
    """A hashtag, by its normal form (plaza.tags.parsing.tag_normal_form)."""

    id = SnowflakeIdField()
    name = models.CharField(max_length=TAG_MAX_LENGTH, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"#{self.name}"


class PostTag(models.Model):
    """A post uses a tag. The post's id comes first in time order, so a tag's page is one
    range of the (tag, post) index, newest first."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, related_name="post_links", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "post"], name="post_tag_unique_tag_post"),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} #{self.tag_id}"


class TagUse(models.Model):
    """How many posts of one account used a tag on one day (UTC): written with each post,
    so that a tag's history and the trends read a handful of rows per tag and day, never
    the posts."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="uses", db_index=False)
    day = models.DateField()
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    posts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tag", "day", "account"], name="tag_use_unique_tag_day_account"
            ),
            models.CheckConstraint(condition=models.Q(posts__gt=0), name="tag_use_posts_positive"),
        ]
        indexes = [models.Index(fields=["day", "tag"], name="tag_use_day_tag_idx")]

    def __str__(self) -> str:
        return f"#{self.tag_id} {self.day} {self.account_id}: {self.posts}"


class TagFollow(models.Model):
    """An account follows a tag: its public posts enter the account's home feed."""

    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tag_follows",
        db_index=False,
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tag"], name="tag_follow_unique_user_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows #{self.tag_id}"


class Mention(models.Model):
    """A post names a local account with @username: the account is told (a `mention`
    notification, unless one of them blocks or mutes the other) and may always see the
    post."""

    id = SnowflakeIdField()
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentioned_in"
    )

    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user"], name="mention_unique_post_user"),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} @{self.user_id}"
