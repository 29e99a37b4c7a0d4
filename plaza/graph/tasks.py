"""Background work of the social graph."""

from celery import shared_task

from plaza.graph import services


@shared_task
def accept_follow_requests(user_id: int) -> int:
    """Accept every request pending to an account that went public (see
    plaza.graph.services.privacy_set). Idempotent: a request accepted twice is found once."""
    return services.follow_requests_accept_all(user_id=user_id)
