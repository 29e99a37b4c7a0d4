"""Media attachments: images uploaded first, then attached to a post by id (as on Mastodon)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from plaza.core.models import SnowflakeIdField
from plaza.posts.models import Post

DESCRIPTION_MAX_LENGTH = 1500
ATTACHMENTS_PER_POST = 4


class MediaKind(models.TextChoices):
    IMAGE = "image"  # stills and animations (GIF, WebP) alike


class MediaAttachment(models.Model):
    """One uploaded image, stored re-encoded with a preview. Its files are named by the
    server (unguessable); `post` is null until it is attached, and `position` is its place
    among the post's attachments."""

    id = SnowflakeIdField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="media",
        db_index=False,  # covered by the (owner, post) index below
    )
    post = models.ForeignKey(
        Post,
        on_delete=models.CASCADE,
        related_name="media",
        null=True,
        blank=True,
        db_index=False,  # covered by the (post, position) constraint's index
    )
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=MediaKind.choices, default=MediaKind.IMAGE)
    file = models.FileField(max_length=200)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    preview = models.FileField(max_length=200)
    preview_width = models.PositiveIntegerField()
    preview_height = models.PositiveIntegerField()
    blurhash = models.CharField(max_length=64)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    focus_x = models.FloatField(default=0.0)
    focus_y = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # At most ATTACHMENTS_PER_POST per post, each in its own place; attached exactly
            # when it has a place.
            models.UniqueConstraint(fields=["post", "position"], name="media_unique_position"),
            models.CheckConstraint(
                condition=Q(post__isnull=True, position__isnull=True)
                | Q(post__isnull=False, position__lt=ATTACHMENTS_PER_POST),
                name="media_position_when_attached",
            ),
            models.CheckConstraint(
                condition=Q(focus_x__gte=-1, focus_x__lte=1, focus_y__gte=-1, focus_y__lte=1),
                name="media_focus_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "post"], name="media_owner_post_idx"),
            # The sweep of unattached uploads, oldest first.
            models.Index(
                fields=["created_at"], name="media_unattached_idx", condition=Q(post=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of {self.owner_id}"

    @property
    def focus(self) -> dict[str, float]:
        return {"x": self.focus_x, "y": self.focus_y}
