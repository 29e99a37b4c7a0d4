"""Every write to media attachments: upload (processed at once, or in the background when
large), alt text and focus, attaching to a post, deletion, and the sweeps of uploads never
attached and of background processing that never finished. Files go through Django's storage
API (local disk or S3-compatible object storage, settings.STORAGES); a file is removed only
once the deletion of its row has committed."""

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from plaza.accounts.models import User
from plaza.core.exceptions import InvalidInput
from plaza.core.tasks import queue_after_answer
from plaza.media import tasks
from plaza.media.images import (
    ImageLimits,
    ImageRejected,
    ProcessedImage,
    Rendition,
    decoded_pixels,
    open_image,
    process_image,
    process_profile_image,
)
from plaza.media.models import ATTACHMENTS_PER_POST, MediaAttachment, MediaState
from plaza.posts.models import Post

STORED_UNDER = "attachments"
AVATARS_UNDER = "avatars"  # as User.avatar's upload_to, for files set in the admin before
HEADERS_UNDER = "headers"
# What Plaza serves at MEDIA_URL where it serves files itself: nothing outside these.
SERVED_UNDER = (STORED_UNDER, AVATARS_UNDER, HEADERS_UNDER)
# Uploads as received, waiting for the background: never served (not in SERVED_UNDER),
# named by the server like every stored file, deleted once processed.
PENDING_UNDER = "pending"
# A background run that has not finished this long after it started is taken to be lost (a
# worker killed, a broker that was down, a restart): the sweep queues it again, at most
# PROCESSING_ATTEMPTS times in all, then marks the upload failed.
PROCESSING_LEASE = timedelta(minutes=10)
PROCESSING_ATTEMPTS = 3

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
    if the bytes are not an image Plaza accepts). One with more than MEDIA_BACKGROUND_PIXELS
    to decode is checked from its header only, kept as received and processed in the
    background: it comes back PROCESSING, and becomes READY (or FAILED) by itself."""
    limits = image_limits()
    with refused_as_invalid_input():
        image = open_image(upload, limits)
    # After the answer: the uploads of anyone's that expired meanwhile go (one indexed query
    # when none has).
    queue_after_answer(tasks.expire_unattached_media)
    details = {
        "owner": owner,
        "description": description,
        "focus_x": focus[0],
        "focus_y": focus[1],
    }
    if decoded_pixels(image) > settings.MEDIA_BACKGROUND_PIXELS:
        return _upload_for_background(upload, details)
    with refused_as_invalid_input():
        processed = process_image(image, limits)
    fields = _stored_renditions(processed)
    try:
        return MediaAttachment.objects.create(**details, **fields)
    except BaseException:
        stored_files_delete_now([fields["file"], fields["preview"]])
        raise


@contextmanager
def refused_as_invalid_input() -> Iterator[None]:
    """An image refused inside is the API's 400, with the reason's code, on `file`."""
    try:
        yield
    except ImageRejected as exc:
        raise InvalidInput(exc.message, field="file", code=exc.code) from None


def _upload_for_background(upload: IO[bytes], details: dict[str, Any]) -> MediaAttachment:
    upload.seek(0)
    original = default_storage.save(f"{PENDING_UNDER}/{secrets.token_hex(16)}", File(upload))
    try:
        media = MediaAttachment.objects.create(
            **details, state=MediaState.PROCESSING, original=original
        )
    except BaseException:
        stored_files_delete_now([original])
        raise
    queue_after_answer(tasks.process_media, media.pk)
    return media


def _stored_renditions(processed: ProcessedImage) -> dict[str, Any]:
    """Store the image and its preview; the fields of a READY attachment that has them. If
    storing fails, what was written is deleted again."""
    name = secrets.token_hex(16)  # unguessable: the URL is the only key to the file
    written: list[str] = []
    try:
        written.append(_store(f"{STORED_UNDER}/{name}", processed.image))
        written.append(_store(f"{STORED_UNDER}/{name}-preview", processed.preview))
    except BaseException:
        stored_files_delete_now(written)
        raise
    return {
        "state": MediaState.READY,
        "file": written[0],
        "content_type": processed.image.content_type,
        "width": processed.image.width,
        "height": processed.image.height,
        "preview": written[1],
        "preview_width": processed.preview.width,
        "preview_height": processed.preview.height,
        "blurhash": processed.blurhash,
    }


def media_process(*, media_id: int) -> None:
    """The background half of a large upload: decode and re-encode the original, then make
    the attachment READY with its renditions (or FAILED, with the error code an upload
    would have been answered with) and delete the original. A run claims the upload for
    PROCESSING_LEASE; a second run meanwhile, or one for an upload deleted or finished
    already, does nothing."""
    now = timezone.now()
    claimed = (
        MediaAttachment.objects.filter(
            pk=media_id, state=MediaState.PROCESSING, attempts__lt=PROCESSING_ATTEMPTS
        )
        .filter(Q(attempted_at=None) | Q(attempted_at__lt=now - PROCESSING_LEASE))
        .update(attempts=F("attempts") + 1, attempted_at=now)
    )
    media = MediaAttachment.objects.filter(pk=media_id).first() if claimed else None
    if media is None:
        return
    limits = image_limits()
    try:
        with default_storage.open(media.original.name) as original:
            fields = _stored_renditions(process_image(open_image(original, limits), limits))
    except ImageRejected as exc:
        _finish_processing(media, {"state": MediaState.FAILED, "failure": exc.code})
        return
    try:
        finished = _finish_processing(media, fields)
    except BaseException:  # the database failed: the next run writes its own files
        # Unless the finish did commit and only its answer was lost: the files a row names
        # stay. If the database cannot say, they stay too (an orphan, never a broken link).
        with suppress(Exception):
            if not MediaAttachment.objects.filter(pk=media.pk, file=fields["file"]).exists():
                stored_files_delete_now([fields["file"], fields["preview"]])
        raise
    if not finished:  # deleted meanwhile, or finished by another run
        stored_files_delete_now([fields["file"], fields["preview"]])


def _finish_processing(media: MediaAttachment, fields: dict[str, Any]) -> bool:
    with transaction.atomic():
        finished = MediaAttachment.objects.filter(pk=media.pk, state=MediaState.PROCESSING).update(
            **fields, original=""
        )
        if finished:
            stored_files_delete_after_commit([media.original.name])
    return bool(finished)


def media_requeue_stalled() -> int:
    """Queue again the background processing of uploads whose run never finished (see
    PROCESSING_LEASE); those out of attempts are marked FAILED (`processing_failed`) and
    their originals deleted. Returns how many were queued or failed."""
    cutoff = timezone.now() - PROCESSING_LEASE
    stalled = list(
        MediaAttachment.objects.filter(state=MediaState.PROCESSING, created_at__lt=cutoff)
        .filter(Q(attempted_at=None) | Q(attempted_at__lt=cutoff))
        .order_by("created_at")[:100]
    )
    for media in stalled:
        if media.attempts < PROCESSING_ATTEMPTS:
            queue_after_answer(tasks.process_media, media.pk)
            continue
        if _finish_processing(media, {"state": MediaState.FAILED, "failure": "processing_failed"}):
            logger.error("Gave up processing upload %s after %s attempts", media.pk, media.attempts)
    return len(stalled)


def profile_image_store(*, upload: IO[bytes], size: tuple[int, int], under: str) -> str:
    """Check, crop to `size` and store an avatar or a header; returns the stored file's name
    (400 with the reason's code if the bytes are not an image Plaza accepts)."""
    with refused_as_invalid_input():
        rendition = process_profile_image(upload, image_limits(), size)
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
        # Read again under the row's lock: the files to delete are those it names now (its
        # background processing may have finished since `media` was loaded).
        current = MediaAttachment.objects.select_for_update().filter(pk=media.pk).first()
        if current is None:
            return  # deleted meanwhile, with its files
        if current.post_id is not None:
            raise InvalidInput(
                "This image is attached to a post: edit or delete the post instead.",
                code="media_attached",
            )
        current.delete()
        delete_files_after_commit([current])


def media_attach(*, post: Post, media_ids: list[int]) -> list[MediaAttachment]:
    """Make `media_ids` the post's attachments, in this order: the author's own finished
    uploads, unattached or already on this post. Those the post had and the list leaves out are
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
    unfinished = [media_id for media_id in media_ids if found[media_id].state != MediaState.READY]
    if unfinished:
        raise InvalidInput(
            "Not ready to attach yet (still being processed, or its processing failed): "
            f"{', '.join(map(str, unfinished))}. Ask for the upload again until its state "
            "is ready.",
            field="media_ids",
            code="media_not_ready",
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
        [name for item in media for name in (item.file.name, item.preview.name, item.original.name)]
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
