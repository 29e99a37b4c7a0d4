"""Every write to media attachments: upload, alt text and focus, attaching to a post,
deletion, and the sweep of uploads never attached. Files go through Django's storage API
(local disk or S3-compatible object storage, settings.STORAGES); a file is removed only
once the deletion of its row has committed."""

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from plaza.accounts.models import User
from plaza.core.exceptions import InvalidInput
from plaza.core.tasks import queue_after_answer
from plaza.media import tasks
from plaza.media.images import (
    ImageLimits,
    ImageRejected,
    Rendition,
    process_image,
    process_profile_image,
)
from plaza.media.models import ATTACHMENTS_PER_POST, MediaAttachment
from plaza.posts.models import Post

STORED_UNDER = "attachments"

logger = logging.getLogger(__name__)


def image_limits() -> ImageLimits:
    return ImageLimits(
        max_pixels=settings.MEDIA_MAX_PIXELS,
        max_frames=settings.MEDIA_MAX_FRAMES,
        max_dimension=settings.MEDIA_MAX_DIMENSION,
        preview_dimension=settings.MEDIA_PREVIEW_DIMENSION,
    )


def media_upload(
    *, owner: User, upload: IO[bytes], description: str = "", focus: tuple[float, float] = (0, 0)
) -> MediaAttachment:
    """Check, re-encode and store an uploaded image, unattached (400 with the reason's code
    if the bytes are not an image Plaza accepts)."""
    try:
        processed = process_image(upload, image_limits())
    except ImageRejected as exc:
        raise InvalidInput(exc.message, field="file", code=exc.code) from None
    # After the answer: the uploads of anyone's that expired meanwhile go (one indexed query
    # when none has).
    queue_after_answer(tasks.expire_unattached_media)
    name = secrets.token_hex(16)  # unguessable: the URL is the only key to the file
    written: list[str] = []  # deleted again if the row is not made
    try:
        stored = _store(f"{STORED_UNDER}/{name}", processed.image)
        written.append(stored)
        preview = _store(f"{STORED_UNDER}/{name}-preview", processed.preview)
        written.append(preview)
        return MediaAttachment.objects.create(
            owner=owner,
            file=stored,
            content_type=processed.image.content_type,
            width=processed.image.width,
            height=processed.image.height,
            preview=preview,
            preview_width=processed.preview.width,
            preview_height=processed.preview.height,
            blurhash=processed.blurhash,
            description=description,
            focus_x=focus[0],
            focus_y=focus[1],
        )
    except BaseException:
        stored_files_delete_now(written)
        raise


def profile_image_store(*, upload: IO[bytes], size: tuple[int, int], under: str) -> str:
    """Check, crop to `size` and store an avatar or a header; returns the stored file's name
    (400 with the reason's code if the bytes are not an image Plaza accepts)."""
    try:
        rendition = process_profile_image(upload, image_limits(), size)
    except ImageRejected as exc:
        raise InvalidInput(exc.message, field="file", code=exc.code) from None
    return _store(f"{under}/{secrets.token_hex(16)}", rendition)


def _store(stem: str, rendition: Rendition) -> str:
    return default_storage.save(f"{stem}.{rendition.extension}", ContentFile(rendition.content))


def media_update(
    *,
    media: MediaAttachment,
    description: str | None = None,
    focus: tuple[float, float] | None = None,
) -> MediaAttachment:
    """Alt text and focus change before and after the image is attached."""
    changed = []
    if description is not None:
        media.description = description
        changed.append("description")
    if focus is not None:
        media.focus_x, media.focus_y = focus
        changed += ["focus_x", "focus_y"]
    if changed:
        media.save(update_fields=changed)
    return media


def media_delete(*, media: MediaAttachment) -> None:
    """Delete an upload that is not attached; an attached one goes with its post, or when
    an edit of the post takes it off."""
    with transaction.atomic():
        deleted, _ = MediaAttachment.objects.filter(pk=media.pk, post=None).delete()
        if not deleted:
            raise InvalidInput(
                "This image is attached to a post: edit or delete the post instead.",
                code="media_attached",
            )
        delete_files_after_commit([media])


def media_attach(*, post: Post, media_ids: list[int]) -> list[MediaAttachment]:
    """Make `media_ids` the post's attachments, in this order: the author's own uploads,
    unattached or already on this post. Those the post had and the list leaves out are
    detached (and swept later as any unattached upload). Runs in the caller's transaction;
    the rows are locked, so two posts racing for one upload cannot both get it."""
    if len(media_ids) > ATTACHMENTS_PER_POST:
        raise InvalidInput(
            f"A post has at most {ATTACHMENTS_PER_POST} attachments.",
            field="media_ids",
            code="too_many_media",
        )
    if len(set(media_ids)) != len(media_ids):
        raise InvalidInput(
            "Each attachment may appear once.", field="media_ids", code="duplicate_media"
        )
    usable = (
        MediaAttachment.objects.select_for_update()
        .filter(pk__in=media_ids, owner_id=post.author_id)
        .filter(Q(post=None) | Q(post=post))
    )
    found = {media.pk: media for media in usable}
    missing = [media_id for media_id in media_ids if media_id not in found]
    if missing:
        # Someone else's upload, one on another post, and one that never existed are
        # refused alike: nobody learns which ids are taken.
        raise InvalidInput(
            f"No such upload of yours to attach: {', '.join(map(str, missing))}.",
            field="media_ids",
            code="unknown_media",
        )
    # Off first, then on in the new order: the (post, position) constraint holds throughout.
    MediaAttachment.objects.filter(post=post).update(post=None, position=None)
    attached = []
    for position, media_id in enumerate(media_ids):
        media = found[media_id]
        media.post, media.position = post, position
        media.save(update_fields=["post", "position"])
        attached.append(media)
    return attached


def delete_files_after_commit(media: Iterable[MediaAttachment]) -> None:
    """Remove these attachments' files once the transaction that deletes their rows has
    committed (at once outside a transaction); a rollback keeps them."""
    stored_files_delete_after_commit(
        [name for item in media for name in (item.file.name, item.preview.name)]
    )


def stored_files_delete_after_commit(names: Iterable[str]) -> None:
    """Remove these stored files once the current transaction has committed."""
    kept = [name for name in names if name]
    if kept:
        # Robust: the change has committed by then, and a store that fails to delete must
        # not turn it into an error answer.
        transaction.on_commit(lambda: _delete_files(kept), robust=True)


def stored_files_delete_now(names: Iterable[str]) -> None:
    """Remove stored files that no row names (written for a change that then failed)."""
    _delete_files([name for name in names if name])


def _delete_files(names: list[str]) -> None:
    """Delete each file; one that fails is logged (an orphan in the store), the rest go."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("Could not delete the stored file %s", name, exc_info=True)


def unattached_expiry_cutoff() -> datetime:
    """Uploads not attached by then are past MEDIA_UNATTACHED_HOURS."""
    return timezone.now() - timedelta(hours=settings.MEDIA_UNATTACHED_HOURS)


def media_expire_unattached(*, created_before: datetime) -> int:
    """Delete the uploads that were never attached (or were taken off their post) and are
    older than `created_before`, with their files; returns how many."""
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                MediaAttachment.objects.select_for_update(skip_locked=True)
                .filter(post=None, created_at__lt=created_before)
                .order_by("created_at")[:500]
            )
            if not batch:
                return expired
            MediaAttachment.objects.filter(pk__in=[m.pk for m in batch], post=None).delete()
            delete_files_after_commit(batch)
        expired += len(batch)
