"""Delete uploads never attached to a post (or taken off one) once they are older than
MEDIA_UNATTACHED_HOURS, with their files. Safe to run from cron at any time, on any machine
that shares the database and the storage."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from plaza.media.services import media_expire_unattached


class Command(BaseCommand):
    help = "Delete unattached uploads older than MEDIA_UNATTACHED_HOURS, with their files."

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(hours=settings.MEDIA_UNATTACHED_HOURS)
        deleted = media_expire_unattached(created_before=cutoff)
        self.stdout.write(
            f"Deleted {deleted} unattached uploads older than {cutoff:%Y-%m-%d %H:%M} UTC."
        )
