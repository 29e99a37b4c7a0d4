from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils import timezone

from plaza.core.models import SnowflakeIdField

TITLE_MAX_LENGTH = 200
CONTENT_MAX_LENGTH = 5000
SPOILER_TEXT_MAX_LENGTH = 200
PINS_PER_ACCOUNT = 5
COMMENT_MAX_LENGTH = 2000
SUMMARY_LENGTH = 80


def summarize(text: str, length: int = SUMMARY_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


class Visibility(models.TextChoices):
    """Who may read a post, chosen when it is published (an edit cannot change it). A
    private account's posts are read only by its followers (and those they mention) whatever
    this says: it narrows who, never widens."""

    PUBLIC = "public", "Public: everywhere, public timeline, tag pages and trends included"
    UNLISTED = "unlisted", "Unlisted: by link, on the profile and to followers, in no public list"
    FOLLOWERS = "followers", "Followers: only followers and the accounts it mentions"
    DIRECT = "direct", "Direct: only the accounts it mentions"


class Post(models.Model):
    """A post: text, pictures (plaza.media), or both; a title is optional, as the original
    API had one. Its id is time-sortable, so "newest first" is ORDER BY id DESC.
    likes_count, comments_count and reposts_count are maintained by plaza.posts.services."""

    id = SnowflakeIdField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="posts",
        db_index=False,  # covered by the (author, id) index below
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True, default="")
    content = models.TextField(max_length=CONTENT_MAX_LENGTH, blank=True, default="")
    # A content warning: shown in place of the content until the reader chooses to open it.
    spoiler_text = models.CharField(max_length=SPOILER_TEXT_MAX_LENGTH, blank=True, default="")
    # The pictures are hidden until opened; always set while there is a content warning.
    sensitive = models.BooleanField(default=False)
    # What the content refers to, with positions: mentions (resolved to accounts when
    # written), hashtags and links. Written with the content by plaza.posts.services
    # (plaza.tags.services.text_read), so that rendering a page reads nothing more.
    entities = models.JSONField(default=list, blank=True)
    visibility = models.CharField(
        max_length=9, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # When the content, title, warning, sensitivity or pictures last changed (null: never);
    # updated_at moves with any change.
    edited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    likes_count = models.IntegerField(default=0)
    comments_count = models.IntegerField(default=0)
    reposts_count = models.IntegerField(default=0)

    class Meta:
        indexes = [
            # An author's posts newest first: profile pages, ?author=, and each followed
            # account's slice of the home feed, which reads the visibility from the index
            # too and so never touches the table to choose a page's ids.
            models.Index(
                fields=["author", "-id", "visibility"], name="post_author_id_visibility_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visibility__in=Visibility.values), name="post_visibility_known"
            ),
        ]

    def __str__(self) -> str:
        return summarize(self.summary_source, 40)

    @property
    def summary_source(self) -> str:
        """What a one-line mention of the post (a notification, the admin) shows: its
        content warning, else its title, else its text, never what a warning hides."""
        return self.spoiler_text or self.title or self.content


class Comment(models.Model):
    id = SnowflakeIdField()
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    content = models.TextField(max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        indexes = [models.Index(fields=["post", "id"], name="comment_post_id_idx")]

    def __str__(self) -> str:
        return summarize(self.content, 40)


class Like(models.Model):
    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes", db_index=False
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        constraints = [
            # One like per user and post; its index also answers "which of these posts did
            # the viewer like" for a whole page at once.
            models.UniqueConstraint(fields=["user", "post"], name="like_unique_user_post"),
        ]
        indexes = [models.Index(fields=["post", "-id"], name="like_post_id_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} ♥ {self.post_id}"


# What can be reposted: what its readers could pass on to anyone. A followers-only or direct
# post would reach those its author kept it from (Mastodon refuses them too).
REPOSTABLE = (Visibility.PUBLIC, Visibility.UNLISTED)


class Repost(models.Model):
    """A post passed on by `user` to those who follow them."""

    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reposts", db_index=False
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reposts", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        constraints = [
            # One repost per user and post; its index also answers "which of these posts has
            # the viewer reposted" for a whole page at once.
            models.UniqueConstraint(fields=["user", "post"], name="repost_unique_user_post"),
        ]
        indexes = [
            # Who reposted a post, most recent first; deleting a post deletes its reposts.
            models.Index(fields=["post", "-id"], name="repost_post_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ↻ {self.post_id}"


class PostEdit(models.Model):
    """One version of an edited post. The first edit records the original (dated when the
    post was published) and the new version; each later edit, its new version: the history
    is these rows in id order, the last one the post as it stands."""

    id = SnowflakeIdField()
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="edits", db_index=False)
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True, default="")
    content = models.TextField(max_length=CONTENT_MAX_LENGTH, blank=True, default="")
    spoiler_text = models.CharField(max_length=SPOILER_TEXT_MAX_LENGTH, blank=True, default="")
    sensitive = models.BooleanField(default=False)
    entities = models.JSONField(default=list, blank=True)
    media_ids = models.JSONField(default=list, blank=True)  # the attachments, in order
    created_at = models.DateTimeField(default=timezone.now)

    notifications = GenericRelation(
        "notifications.Notification", content_type_field="target_type", object_id_field="target_id"
    )

    class Meta:
        indexes = [models.Index(fields=["post", "id"], name="post_edit_post_id_idx")]

    def __str__(self) -> str:
        return f"{self.post_id} as of {self.created_at:%Y-%m-%d %H:%M}"


class Bookmark(models.Model):
    """A post kept to read again; seen only by the account that kept it."""

    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookmarks", db_index=False
    )
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="bookmarks", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One bookmark per user and post; its index also answers "which of these posts
            # has the viewer kept" for a whole page at once.
            models.UniqueConstraint(fields=["user", "post"], name="bookmark_unique_user_post"),
        ]
        indexes = [
            # The viewer's bookmarks, most recently kept first.
            models.Index(fields=["user", "-id"], name="bookmark_user_id_idx"),
            # Deleting a post deletes its bookmarks.
            models.Index(fields=["post"], name="bookmark_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} 🔖 {self.post_id}"


class Pin(models.Model):
    """One of an account's own posts, pinned to the top of its profile. At most
    PINS_PER_ACCOUNT, each in its own slot: the database refuses a sixth."""

    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pins", db_index=False
    )
    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="pin")
    slot = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "slot"], name="pin_unique_user_slot"),
            models.CheckConstraint(
                condition=models.Q(slot__lt=PINS_PER_ACCOUNT), name="pin_slot_within_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} 📌 {self.post_id}"
