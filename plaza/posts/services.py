"""Every write to posts (and their versions), comments, likes, bookmarks and pins, with its
counters and notifications."""

from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.http import Http404
from django.utils import timezone

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.exceptions import InvalidInput, NotPermitted
from plaza.core.tasks import queue_after_answer
from plaza.feed import services as feed_services
from plaza.graph.models import Block
from plaza.graph.selectors import accounts_shunning
from plaza.media import services as media_services
from plaza.media.models import MediaAttachment
from plaza.notifications.models import Notification, NotificationKind
from plaza.notifications.services import notification_create
from plaza.posts import tasks
from plaza.posts.models import (
    PINS_PER_ACCOUNT,
    REPOSTABLE,
    Bookmark,
    Comment,
    Like,
    Pin,
    Post,
    PostEdit,
    Repost,
    Visibility,
)
from plaza.tags import services as tags_services


def _lock_post(post_id: int, *, actor: User | None = None, counter: str = "likes_count") -> int:
    """Lock the post's row until the transaction ends, or answer 404 if it is gone; returns
    its `counter` as locked (exact until the transaction ends). With `actor`, also refuse
    (403) when the actor and the post's author block each other, in the same statement.

    Every write that adds a row pointing at a post (a like, a comment) takes this lock first,
    and so does deletion. A deletion then either waits for such a write and deletes what it
    added, or runs first and the write answers 404. Without the lock, PostgreSQL's cascade can
    miss a like committed between its reading the children and deleting the post, and the
    deletion fails on the foreign key. (SQLite runs one write transaction at a time anyway.)
    """
    locked = Post.objects.select_for_update().filter(pk=post_id)
    if actor is None:
        for (count,) in locked.values_list(counter):
            return count
        raise Http404("No such post.")
    author = OuterRef("author_id")
    checked = locked.annotate(
        author_blocks=Exists(Block.objects.filter(blocker_id=author, blocked=actor)),
        actor_blocks=Exists(Block.objects.filter(blocker=actor, blocked_id=author)),
    ).values_list(counter, "author_blocks", "actor_blocks")
    for count, author_blocks, actor_blocks in checked:
        if author_blocks:
            raise NotPermitted("This account has blocked you.", code="blocked")
        if actor_blocks:
            raise NotPermitted("You block this account: unblock it first.", code="blocking")
        return count
    raise Http404("No such post.")


def post_create(
    *,
    author: User,
    title: str = "",
    content: str = "",
    spoiler_text: str = "",
    sensitive: bool = False,
    media_ids: list[int] | None = None,
    visibility: str | None = None,
) -> Post:
    """Publish a post, with the author's uploads `media_ids` attached in that order. It
    needs content or pictures (400 `empty_post`); a content warning marks its pictures
    sensitive too, as on Mastodon. `visibility` (a `Visibility`) defaults to `followers` for
    a private account and `public` for others."""
    if not content.strip() and not media_ids:
        raise _empty_post()
    text = tags_services.text_read(content)
    with transaction.atomic():
        post = Post.objects.create(
            author=author,
            title=title,
            content=content,
            spoiler_text=spoiler_text,
            sensitive=sensitive or bool(spoiler_text),
            entities=text.entities,
            visibility=visibility or _default_visibility(author),
        )
        # Its tags and mentions (notifying those mentioned).
        tags_services.post_text_link(post=post, text=text)
        if media_ids:
            media_services.media_attach(post=post, media_ids=media_ids)
        User.objects.filter(pk=author.pk).update(posts_count=F("posts_count") + 1)
        # After commit: into the followers' timelines, and live to those connected.
        feed_services.post_published(post.pk)
    return post


def _default_visibility(author: User) -> str:
    return Visibility.FOLLOWERS if author.is_private else Visibility.PUBLIC


# What readers see of a post: a change to any of these is an edit, kept in its history.
_VERSIONED = ("title", "content", "spoiler_text", "sensitive")


def post_update(
    *,
    post: Post,
    title: str | None = None,
    content: str | None = None,
    spoiler_text: str | None = None,
    sensitive: bool | None = None,
    media_ids: list[int] | None = None,
    visibility: str | None = None,
) -> Post:
    """Edit a post: each field given replaces the post's; `media_ids`, when given, become its
    attachments (an empty list takes them all off). What is left must still be content or
    pictures (400 `empty_post`). Its visibility stays what it was published with (400
    `visibility_fixed` for another: those who could read it may have replied, liked or
    kept it, and a wider one would show it to those its author kept it from).

    When what readers see changes, the post keeps its versions (PostEdit), `edited_at` is set
    and, after the answer, those who liked it are told (`update`). Concurrent edits of one
    post apply one after the other, on the post's locked row, so every version is kept."""
    given: dict[str, Any] = {
        name: value
        for name, value in zip(_VERSIONED, (title, content, spoiler_text, sensitive), strict=True)
        if value is not None
    }
    if visibility is not None and visibility != post.visibility:
        raise InvalidInput(
            "A post's visibility cannot change: delete it and post again.",
            code="visibility_fixed",
        )
    text = None if content is None else tags_services.text_read(content)
    with transaction.atomic():
        _lock_post(post.pk)
        # Edit the version the lock holds, not the one the caller read: another edit may
        # have committed in between.
        post.refresh_from_db(fields=[*_VERSIONED, "entities", "edited_at"])
        media_before = _attachment_ids(post)
        before = _version(post, media_before)
        for name, value in given.items():
            setattr(post, name, value)
        post.sensitive = post.sensitive or bool(post.spoiler_text)
        if text is not None:
            post.entities = text.entities
        media_after = media_before if media_ids is None else media_ids
        if not post.content.strip() and not media_after:
            raise _empty_post()
        now = timezone.now()
        post.updated_at = now
        edited = _version(post, media_after) != before
        if edited:
            post.edited_at = now
            if not PostEdit.objects.filter(post=post).exists():
                PostEdit.objects.create(post=post, created_at=post.created_at, **before)
        post.save(update_fields=[*_VERSIONED, "entities", "edited_at", "updated_at"])
        if text is not None:
            tags_services.post_text_link(post=post, text=text, edited=True)
        if media_ids is not None:
            media_services.media_attach(post=post, media_ids=media_ids)
        if edited:
            version = PostEdit.objects.create(
                post=post, created_at=now, **_version(post, media_after)
            )
            queue_after_answer(tasks.notify_post_edited, version.pk)
    return post


def _attachment_ids(post: Post) -> list[int]:
    return list(
        MediaAttachment.objects.filter(post=post).order_by("position").values_list("pk", flat=True)
    )


def _version(post: Post, media_ids: list[int]) -> dict[str, Any]:
    """The post as a reader sees it, as a PostEdit records it."""
    return {
        **{name: getattr(post, name) for name in _VERSIONED},
        "entities": post.entities,
        "media_ids": list(media_ids),
    }


def post_edit_notify(*, edit_id: int) -> int:
    """Tell those who liked or reposted an edited post about this version (`update`), each
    once, except
    those the author blocks, who block the author or who mute them; how many were told. Run
    after the answer (plaza.posts.tasks): a post liked by thousands costs its author
    nothing."""
    edit = PostEdit.objects.select_related("post__author").filter(pk=edit_id).first()
    if edit is None:  # the post was deleted meanwhile
        return 0
    author = edit.post.author
    already = Notification.objects.filter(
        target_type=ContentType.objects.get_for_model(PostEdit), target_id=edit.pk
    ).values("recipient_id")

    def interacted(model: type[Like | Repost]) -> set[int]:
        return set(
            model.objects.filter(post_id=edit.post_id)
            .exclude(user_id=author.pk)
            .exclude(user_id__in=already)
            .values_list("user_id", flat=True)
        )

    recipients = sorted(interacted(Like) | interacted(Repost))
    told = 0
    for start in range(0, len(recipients), _NOTIFY_BATCH):
        batch = recipients[start : start + _NOTIFY_BATCH]
        shunning = accounts_shunning(author, batch)
        with transaction.atomic():
            for user_id in batch:
                if user_id not in shunning:
                    notification_create(
                        recipient_id=user_id,
                        actor=author,
                        kind=NotificationKind.UPDATE,
                        target=edit,
                    )
                    told += 1
    return told


_NOTIFY_BATCH = 500


def _empty_post() -> InvalidInput:
    return InvalidInput(
        "A post needs content, pictures (media_ids), or both.", field="content", code="empty_post"
    )


def post_delete(*, post: Post) -> None:
    """Delete a post with its comments, likes, bookmarks, mentions, tags (and its uses of
    them), attachments (their files once the deletion has committed) and their
    notifications."""
    with transaction.atomic():
        _lock_post(post.pk)
        attachments = list(MediaAttachment.objects.filter(post=post))
        tag_ids = tags_services.post_tags_clear(post=post)
        _total, per_model = Post.objects.filter(pk=post.pk).delete()
        if per_model.get(Post._meta.label, 0):
            User.objects.filter(pk=post.author_id).update(posts_count=F("posts_count") - 1)
            media_services.delete_files_after_commit(attachments)
            feed_services.post_removed(post.pk, post.author_id, tag_ids)


def comment_create(*, author: User, post: Post, content: str) -> Comment:
    with transaction.atomic():
        _lock_post(post.pk, actor=author)
        comment = Comment.objects.create(author=author, post=post, content=content)
        Post.objects.filter(pk=post.pk).update(comments_count=F("comments_count") + 1)
        notification_create(
            recipient_id=post.author_id,
            actor=author,
            kind=NotificationKind.COMMENT,
            target=comment,
        )
    return comment


def comment_update(*, comment: Comment, content: str) -> Comment:
    comment.content = content
    comment.updated_at = timezone.now()
    comment.save(update_fields=["content", "updated_at"])
    return comment


def comment_delete(*, comment: Comment) -> None:
    with transaction.atomic():
        _total, per_model = Comment.objects.filter(pk=comment.pk).delete()
        if per_model.get(Comment._meta.label, 0):
            Post.objects.filter(pk=comment.post_id).update(comments_count=F("comments_count") - 1)


@dataclass(frozen=True)
class LikeResult:
    like: Like
    created: bool
    likes_count: int  # the post's count once this like is in, exact at commit


_CountedT = TypeVar("_CountedT", Like, Repost)


def _counted_create(
    model: type[_CountedT], *, user: User, post: Post, counter: str, kind: NotificationKind
) -> tuple[_CountedT, bool, int]:
    """`user`'s row of `model` on the post (a like, a repost), made unless it exists: the
    row, whether it is new, and the post's `counter` once it is in, read from the row this
    transaction locked (no second query). Only a new row moves the counter and tells the
    post's author (`kind`); the unique constraint decides between concurrent requests."""
    count = 0

    def lock() -> None:
        nonlocal count
        count = _lock_post(post.pk, actor=user, counter=counter)

    def on_create(row: _CountedT) -> None:
        nonlocal count
        Post.objects.filter(pk=post.pk).update(**{counter: F(counter) + 1})
        count += 1
        notification_create(recipient_id=post.author_id, actor=user, kind=kind, target=row)

    try:
        row, created = get_or_create_unique(
            model,
            on_create=on_create,
            still_possible=Post.objects.filter(pk=post.pk).exists,
            prepare=lock,
            user=user,
            post=post,
        )
    except IntegrityError as exc:  # the post was deleted while we were writing
        raise Http404("No such post.") from exc
    return row, created, count


def _counted_delete(model: type[Like | Repost], *, user: User, post: Post, counter: str) -> bool:
    """Take back `user`'s row of `model` on the post (its notification goes with it); says
    whether there was one. The counter moves only when a row was deleted."""
    with transaction.atomic():
        _total, per_model = model.objects.filter(user=user, post=post).delete()
        removed = per_model.get(model._meta.label, 0) > 0
        if removed:
            Post.objects.filter(pk=post.pk).update(**{counter: F(counter) - 1})
    return removed


def like_create(*, user: User, post: Post) -> LikeResult:
    """Like a post. Says whether the like is new (liking twice changes nothing) and the
    post's like count."""
    like, created, count = _counted_create(
        Like, user=user, post=post, counter="likes_count", kind=NotificationKind.LIKE
    )
    return LikeResult(like=like, created=created, likes_count=count)


def like_delete(*, user: User, post: Post) -> bool:
    return _counted_delete(Like, user=user, post=post, counter="likes_count")


@dataclass(frozen=True)
class RepostResult:
    created: bool
    reposts_count: int  # the post's count once this repost is in, exact at commit


def repost_create(*, user: User, post: Post) -> RepostResult:
    """Pass a post on to one's followers; says whether the repost is new (reposting twice
    changes nothing) and the post's repost count. Only a public or unlisted post of a
    public account can be reposted (403 `not_repostable`): any other would reach those its
    author kept it from."""
    if post.visibility not in REPOSTABLE or post.author.is_private:
        raise NotPermitted(
            "Only public and unlisted posts of public accounts can be reposted.",
            code="not_repostable",
        )
    _repost, created, count = _counted_create(
        Repost, user=user, post=post, counter="reposts_count", kind=NotificationKind.REPOST
    )
    return RepostResult(created=created, reposts_count=count)


def repost_delete(*, user: User, post: Post) -> None:
    """Take back a repost; nothing to do when there is none."""
    _counted_delete(Repost, user=user, post=post, counter="reposts_count")


def bookmark_create(*, user: User, post: Post) -> bool:
    """Keep a post to read again; says whether the bookmark is new (keeping it twice changes
    nothing). Race-safe as likes are: the unique constraint decides."""

    def lock() -> None:
        _lock_post(post.pk)

    try:
        _bookmark, created = get_or_create_unique(
            Bookmark,
            on_create=lambda _bookmark: None,
            still_possible=Post.objects.filter(pk=post.pk).exists,
            prepare=lock,
            user=user,
            post=post,
        )
    except IntegrityError as exc:  # the post was deleted while we were writing
        raise Http404("No such post.") from exc
    return created


def bookmark_delete(*, user: User, post: Post) -> None:
    """Let go of a bookmark; nothing to do when there is none."""
    Bookmark.objects.filter(user=user, post=post).delete()


def pin_create(*, user: User, post: Post) -> bool:
    """Pin one of one's own posts to the top of one's profile; says whether the pin is new.
    403 `permission_denied` for someone else's post, as for every owner-only change; 400
    `too_many_pins` past PINS_PER_ACCOUNT."""
    if post.author_id != user.pk:
        raise NotPermitted("Only your own posts can be pinned.")
    with transaction.atomic():
        # One pin at a time per account: its free slots are read under its row's lock (the
        # slot constraints refuse a sixth whatever happens).
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        _lock_post(post.pk)
        if Pin.objects.filter(post=post).exists():
            return False
        taken = set(Pin.objects.filter(user=user).values_list("slot", flat=True))
        free = [slot for slot in range(PINS_PER_ACCOUNT) if slot not in taken]
        if not free:
            raise InvalidInput(
                f"At most {PINS_PER_ACCOUNT} posts can be pinned: unpin one first.",
                code="too_many_pins",
            )
        Pin.objects.create(user=user, post=post, slot=free[0])
    return True


def pin_delete(*, user: User, post: Post) -> None:
    """Unpin a post; nothing to do when it is not pinned."""
    Pin.objects.filter(user=user, post=post).delete()
