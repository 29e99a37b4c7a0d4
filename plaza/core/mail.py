"""Sending Plaza's emails, from background tasks.

In a Celery worker a task sends at once (and Celery retries it when the mail server is
unreachable). Where tasks run eagerly inside the request (the embedded default, no broker),
the finished message goes to a background thread instead (plaza.core.background), so that
how long the mail server takes never shows in the answer's time.
"""

import smtplib
import time

from django.conf import settings
from django.core.mail import EmailMessage

from plaza.core.background import mail_thread

# The background thread has no Celery to retry for it: a few tries, a few seconds apart.
EMBEDDED_SEND_ATTEMPTS = 3
EMBEDDED_RETRY_SECONDS = 2.0


def email_send(subject: str, body: str, to: str) -> None:
    """Send a plain-text email from DEFAULT_FROM_EMAIL, now or after the answer (see above)."""
    message = EmailMessage(subject, body, None, [to])
    if settings.CELERY_TASK_ALWAYS_EAGER:
        mail_thread.submit(_send_with_retries, message)
    else:
        message.send()


def _send_with_retries(message: EmailMessage) -> None:
    for attempt in range(1, EMBEDDED_SEND_ATTEMPTS + 1):
        try:
            message.send()
        except (smtplib.SMTPException, OSError):
            if attempt == EMBEDDED_SEND_ATTEMPTS:
                raise
            time.sleep(EMBEDDED_RETRY_SECONDS)
        else:
            return
