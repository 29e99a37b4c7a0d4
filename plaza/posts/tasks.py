"""Background work on posts."""

from celery import shared_task

from plaza.posts import services


@shared_task(ignore_result=True)
def notify_post_edited(edit_id: int) -> int:
    """Tell those who liked an edited post (plaza.posts.services.post_edit_notify)."""
    return services.post_edit_notify(edit_id=edit_id)
