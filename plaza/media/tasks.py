"""Background work on uploads."""

from celery import shared_task

from plaza.media import services


@shared_task
def expire_unattached_media() -> int:
    """The sweep of `manage.py expire_media`, queued after each upload so that expired
    uploads go without a cron job too; how many it deleted."""
    return services.media_expire_unattached(created_before=services.unattached_expiry_cutoff())
