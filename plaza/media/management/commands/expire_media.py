"""Delete uploads never attached to a post (or taken off one) once they are older than
MEDIA_UNATTACHED_HOURS, with their files. Each upload also queues this sweep after its answer
(plaza.media.tasks); from cron it also covers a server that takes no uploads for a while.
Safe to run at any time, on any machine that shares the database and the storage."""

from typing import Any

from django.core.management.base import BaseCommand

from plaza.media.services import media_expire_unattached, unattached_expiry_cutoff


class Command(BaseCommand):
    help = "Delete unattached uploads older than MEDIA_UNATTACHED_HOURS, with their files."

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = unattached_expiry_cutoff()
        deleted = media_expire_unattached(created_before=cutoff)
        self.stdout.write(
            f"Deleted {deleted} unattached uploads created before {cutoff:%Y-%m-%d %H:%M} UTC."
        )
