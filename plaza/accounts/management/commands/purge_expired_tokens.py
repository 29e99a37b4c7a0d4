"""Delete API tokens unused for longer than TOKEN_IDLE_TTL_DAYS.

Expired tokens are already refused (and deleted when presented); this removes the ones no
client will ever present again. Safe to run from cron at any time.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from plaza.accounts.models import AuthToken


class Command(BaseCommand):
    help = "Delete API tokens that have expired through disuse."

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - settings.TOKEN_IDLE_TTL
        deleted, _ = AuthToken.objects.filter(last_used_at__lte=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} expired tokens.")
