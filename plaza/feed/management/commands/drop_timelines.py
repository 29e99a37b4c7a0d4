"""Forget every cached home timeline; each is rebuilt from the database on its next read.

For after a Redis outage during which fan-out tasks could not be queued, or a change of
FEED_FANOUT_MAX_FOLLOWERS or FEED_TIMELINE_SIZE.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from plaza.feed.timelines import timeline_store


class Command(BaseCommand):
    help = "Drop every home timeline cached in Redis (they rebuild on demand)."

    def handle(self, *args: Any, **options: Any) -> None:
        store = timeline_store()
        if store is None:
            raise CommandError("Timelines are off: set REDIS_URL (and FEED_TIMELINES) first.")
        self.stdout.write(f"Dropped {store.drop_all()} timelines.")
