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


class MediaState(models.TextChoices):
    READY = "ready"  # stored and previewed: it can be attached
    PROCESSING = "processing"  # a large upload, re-encoded in the background
    FAILED = "failed"  # the background processing refused it (`failure` says why)


class MediaAttachment(models.Model):
    """One uploaded image, stored re-encoded with a preview. Its files are named by the
    server (unguessable); `post` is null until it is attached, and `position` is its place
    among the post's attachments. A large upload is kept as received (`original`) while it is
    processed in the background; its renditions, sizes and blurhash come when it is ready."""

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
    state = models.CharField(max_length=16, choices=MediaState.choices, default=MediaState.READY)
    # While processing: the upload as received, under a name nothing published contains.
    original = models.FileField(max_length=200, blank=True)
    # Null rather than empty when there is none, as the API renders them: the error code of a
    # FAILED upload, and the blurhash of one not READY yet.
    failure = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    attempts = models.PositiveSmallIntegerField(default=0)  # background runs started
    attempted_at = models.DateTimeField(null=True, blank=True)  # when the last one started
    file = models.FileField(max_length=200, blank=True)
    content_type = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    preview = models.FileField(max_length=200, blank=True)
    preview_width = models.PositiveIntegerField(null=True, blank=True)
    preview_height = models.PositiveIntegerField(null=True, blank=True)
    blurhash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
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
            # Only a finished image goes on a post.
            models.CheckConstraint(
                condition=Q(post__isnull=True) | Q(state=MediaState.READY),
                name="media_attached_when_ready",
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
            # The sweep's look for background runs that never finished.
            models.Index(
                fields=["created_at"],
                name="media_processing_idx",
                condition=Q(state=MediaState.PROCESSING),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of {self.owner_id}"

    @property
    def focus(self) -> dict[str, float]:
        return {"x": self.focus_x, "y": self.focus_y}
