"""Delete uploads never attached to a post (or taken off one) once they are older than
MEDIA_UNATTACHED_HOURS, with their files, and queue again the background processing of large
uploads whose run was lost (plaza.media.services.PROCESSING_LEASE). Each upload also queues
this sweep after its answer (plaza.media.tasks); from cron it also covers a server that takes
no uploads for a while. Safe to run at any time, on any machine that shares the database and
the storage."""

from typing import Any

from django.core.management.base import BaseCommand

from plaza.media.services import (
    media_expire_unattached,
    media_requeue_stalled,
    unattached_expiry_cutoff,
)


class Command(BaseCommand):
    help = (
        "Delete unattached uploads older than MEDIA_UNATTACHED_HOURS, with their files; queue "
        "lost background processing again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        requeued = media_requeue_stalled()
        if requeued:
            self.stdout.write(f"Queued again, or gave up on, {requeued} lost background runs.")
        cutoff = unattached_expiry_cutoff()
        deleted = media_expire_unattached(created_before=cutoff)
        self.stdout.write(
            f"Deleted {deleted} unattached uploads created before {cutoff:%Y-%m-%d %H:%M} UTC."
        )
