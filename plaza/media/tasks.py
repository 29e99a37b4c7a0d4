"""Background work on uploads."""

from celery import shared_task

from plaza.media import services


@shared_task
def expire_unattached_media() -> int:
    """The sweep of `manage.py expire_media`, queued after each upload so that expired
    uploads go, and lost background runs are queued again, without a cron job too; how many
    uploads it deleted."""
    services.media_requeue_stalled()
    return services.media_expire_unattached(created_before=services.unattached_expiry_cutoff())


# Late acknowledgement: a worker killed mid-run leaves the task to another (the sweep's
# lease catches what even that loses).
@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_media(media_id: int) -> None:
    """Decode and re-encode a large upload (plaza.media.services.media_process)."""
    services.media_process(media_id=media_id)
