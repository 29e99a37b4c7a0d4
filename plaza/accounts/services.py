"""Every change to an account happens here."""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from plaza.accounts.models import AuthToken, User
from plaza.core.exceptions import InvalidInput
from plaza.realtime.events import close_sessions_of_token


def _check_username_free(username: str, *, exclude_pk: int | None = None) -> None:
    taken = User.objects.with_username(username)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise InvalidInput("That username is taken.", field="username", code="username_taken")


def _check_email_free(email: str, *, exclude_pk: int | None = None) -> None:
    taken = User.objects.with_email(email)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise InvalidInput(
            "An account with this email already exists.", field="email", code="email_taken"
        )


def user_register(
    *, username: str, email: str, password: str, device: str = ""
) -> tuple[User, str]:
    """Create an account and its first token. Returns the user and the raw token, which is
    shown to the client once and never stored."""
    email = User.objects.normalize_email(email)
    _check_username_free(username)
    _check_email_free(email)
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), field="password", code="weak_password", details=exc.messages
        ) from exc
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            _token, raw = AuthToken.generate(user, device=device)
    except IntegrityError as exc:
        # Two sign-ups raced for the same name or address: the unique constraints decided.
        raise InvalidInput(
            "That username or email address was just taken.", code="account_exists"
        ) from exc
    return user, raw


def user_login(*, login: str, password: str, device: str = "") -> tuple[User, str]:
    user = authenticate(username=login, password=password)
    if not isinstance(user, User):
        # One message whether the account is unknown or the password wrong.
        raise InvalidInput("Unable to sign in with these credentials.", code="invalid_credentials")
    _token, raw = AuthToken.generate(user, device=device)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return user, raw


def token_revoke(*, token: AuthToken) -> None:
    """Revoke one token; WebSockets opened with it are closed once that commits."""
    with transaction.atomic():
        AuthToken.objects.filter(pk=token.pk).delete()
        close_sessions_of_token(token.pk)


def tokens_revoke_all(*, user: User) -> int:
    with transaction.atomic():
        token_ids = list(AuthToken.objects.filter(user=user).values_list("pk", flat=True))
        deleted, _ = AuthToken.objects.filter(pk__in=token_ids).delete()
        for token_id in token_ids:
            close_sessions_of_token(token_id)
    return deleted


def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    bio: str | None = None,
    email: str | None = None,
    current_password: str | None = None,
) -> User:
    """Change profile fields. Changing the email address also needs the current password:
    whoever controls the address controls the account (password reset), so a stolen token
    alone must not be enough to move it."""
    changed: list[str] = []
    if display_name is not None:
        user.display_name = display_name
        changed.append("display_name")
    if bio is not None:
        user.bio = bio
        changed.append("bio")
    if email is not None:
        email = User.objects.normalize_email(email)
        if email.lower() != user.email.lower():
            if not current_password or not user.check_password(current_password):
                raise InvalidInput(
                    "Give your current password to change your email address.",
                    field="current_password",
                    code="password_required",
                )
            _check_email_free(email, exclude_pk=user.pk)
        user.email = email
        changed.append("email")
    if changed:
        try:
            with transaction.atomic():
                user.save(update_fields=changed)
        except IntegrityError as exc:
            raise InvalidInput(
                "An account with this email already exists.", field="email", code="email_taken"
            ) from exc
    return user
