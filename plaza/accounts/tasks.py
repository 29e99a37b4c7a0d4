"""Emails about an account, sent in the background after the transaction that asks for them.

A task receives only the user's id and builds what is secret (the reset or verification
token) itself, so no secret waits in the broker's queue. Sending is retried when the mail
server is unreachable.
"""

import smtplib

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from plaza.accounts.models import User

RESET_EMAIL_SUBJECT = "Reset your Plaza password"
RESET_EMAIL_BODY = """Hello {username},

Someone (hopefully you) asked to reset the password of your Plaza account.
Choose a new password here:

{link}

If that link does not open a page (a Plaza server without its web app answers it with an
error), finish with the API instead: send these to {confirm_url}
with your new password as "new_password":

uid: {uid}
token: {token}

For example:

curl -X POST {confirm_url} -H 'Content-Type: application/json' \\
  -d '{{"uid": "{uid}", "token": "{token}", "new_password": "your new password"}}'

This link works once, within {minutes} minutes. If you did not ask for it, ignore this
email: your password stays as it is.
"""


VERIFY_EMAIL_SUBJECT = "Confirm your email address for Plaza"
VERIFY_EMAIL_BODY = """Hello {username},

Confirm that this is your address for your Plaza account:

{link}

If that link does not open a page, confirm with the API instead: send this token to
{verify_url} as "token":

token: {token}

It works for {days} days. If you did not sign up for Plaza, ignore this email.
"""
# Keeps verification tokens from being accepted anywhere else SECRET_KEY signs things.
EMAIL_VERIFICATION_SALT = "plaza.accounts.email-verification"


def email_verification_token(user: User) -> str:
    """A signed, timestamped claim "this account has this address". It stops working when
    the address changes (the claim no longer matches) or after EMAIL_VERIFICATION_TIMEOUT."""
    return signing.dumps({"user": user.pk, "email": user.email}, salt=EMAIL_VERIFICATION_SALT)


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


@shared_task(autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, max_retries=5)
def send_password_reset_email(user_id: int) -> bool:
    """Email a password reset link to an active account; False when there is none (any more)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    uid, token = password_reset_uid(user), default_token_generator.make_token(user)
    body = RESET_EMAIL_BODY.format(
        username=user.username,
        link=settings.PASSWORD_RESET_LINK.format(
            public_url=settings.PUBLIC_URL, uid=uid, token=token
        ),
        confirm_url=f"{settings.PUBLIC_URL}/api/auth/password/reset/confirm/",
        uid=uid,
        token=token,
        minutes=settings.PASSWORD_RESET_TIMEOUT // 60,
    )
    send_mail(RESET_EMAIL_SUBJECT, body, None, [user.email])
    return True


@shared_task(autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, max_retries=5)
def send_verification_email(user_id: int) -> bool:
    """Email an address-confirmation link to an active, unverified account; False when
    there is nothing to confirm (any more)."""
    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at=None).first()
    if user is None:
        return False
    token = email_verification_token(user)
    body = VERIFY_EMAIL_BODY.format(
        username=user.username,
        link=settings.EMAIL_VERIFICATION_LINK.format(public_url=settings.PUBLIC_URL, token=token),
        verify_url=f"{settings.PUBLIC_URL}/api/auth/email/verify/",
        token=token,
        days=settings.EMAIL_VERIFICATION_TIMEOUT // 86400,
    )
    send_mail(VERIFY_EMAIL_SUBJECT, body, None, [user.email])
    return True
