"""Every change to an account happens here."""

from typing import IO, Literal

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from plaza.accounts import tasks
from plaza.accounts.models import (
    AVATAR_SIZE,
    HEADER_SIZE,
    AuthToken,
    User,
    validate_display_name,
)
from plaza.core.emails import InvalidEmailAddress, email_key, email_normal_form
from plaza.core.events import close_sessions_of_token
from plaza.core.exceptions import InvalidInput
from plaza.core.tasks import queue_after_answer
from plaza.feed import services as feed_services
from plaza.graph import services as graph_services
from plaza.graph.models import Block, Follow, Mute
from plaza.media import services as media_services
from plaza.media.models import MediaAttachment
from plaza.messaging.models import Conversation, ConversationMember, Message
from plaza.posts.models import Comment, Like, Post, Repost
from plaza.tags.models import PostTag

INVALID_RESET_LINK = "This reset link is invalid, used or expired. Ask for a new one."
INVALID_VERIFICATION_LINK = "This verification link is invalid or expired. Ask for a new one."


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


def _email_normal_form(email: str, *, field: str = "email") -> str:
    """The address as it is stored and compared (plaza.core.emails); a domain that is not
    valid IDNA (400 `invalid_email_domain`) or a local part that is not ASCII
    (`invalid_email_local_part`) is refused, never passed on to fail later."""
    try:
        return email_normal_form(email)
    except InvalidEmailAddress as exc:
        raise InvalidInput(exc.message, field=field, code=exc.code) from None


def _check_display_name(display_name: str) -> None:
    try:
        validate_display_name(display_name)
    except DjangoValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), field="display_name", code="invalid_display_name"
        ) from exc


def _check_new_password(password: str, user: User, *, field: str) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), field=field, code="weak_password", details=exc.messages
        ) from exc


def user_register(
    *, username: str, email: str, password: str, device: str = ""
) -> tuple[User, str]:
    """Create an account and its first token. Returns the user and the raw token, which is
    shown to the client once and never stored."""
    email = _email_normal_form(email)
    _check_username_free(username)
    _check_email_free(email)
    _check_new_password(password, User(username=username, email=email), field="password")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            _token, raw = AuthToken.generate(user, device=device)
            queue_after_answer(tasks.send_verification_email, user.pk)
    except IntegrityError as exc:
        # Two sign-ups raced for the same name or address: the unique constraints decided.
        raise InvalidInput(
            "That username or email address was just taken.", code="account_exists"
        ) from exc
    return user, raw


def user_login(*, login: str, password: str, device: str = "") -> tuple[User, str]:
    if "@" in login:  # an email address: say so if it cannot be anyone's (no such domain)
        _email_normal_form(login, field="username")
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


def tokens_revoke_all(*, user: User, keep: AuthToken | None = None) -> int:
    """Revoke every token of the user (but `keep`, the one in use, if given); their
    WebSockets are closed once that commits. Returns how many were revoked."""
    with transaction.atomic():
        tokens = AuthToken.objects.filter(user=user)
        if keep is not None:
            tokens = tokens.exclude(pk=keep.pk)
        token_ids = list(tokens.values_list("pk", flat=True))
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
    is_private: bool | None = None,
    profile_fields: list[dict[str, str]] | None = None,
) -> User:
    """Change profile fields. Changing the email address also needs the current password:
    whoever controls the address controls the account (password reset), so a stolen token
    alone must not be enough to move it. Privacy changes through
    plaza.graph.services.privacy_set, in the same transaction."""
    changed: list[str] = []
    # Compared with the stored value under its lock (privacy_set), not with `user`, which
    # was loaded before any change racing this one committed.
    set_privacy = is_private is not None
    if display_name is not None:
        _check_display_name(display_name)
        user.display_name = display_name
        changed.append("display_name")
    if bio is not None:
        user.bio = bio
        changed.append("bio")
    if profile_fields is not None:
        user.profile_fields = [
            {"name": field["name"], "value": field["value"]} for field in profile_fields
        ]
        changed.append("profile_fields")
    if email is not None:
        email = _email_normal_form(email)
        if email_key(email) != email_key(user.email):
            if not current_password or not user.check_password(current_password):
                raise InvalidInput(
                    "Give your current password to change your email address.",
                    field="current_password",
                    code="password_required",
                )
            _check_email_free(email, exclude_pk=user.pk)
            # A new address is unproven until its owner confirms it.
            user.email_verified_at = None
            changed.append("email_verified_at")
        user.email = email
        changed.append("email")
    if changed or set_privacy:
        try:
            with transaction.atomic():
                if set_privacy:
                    # First: it waits for follows in flight, which may be waiting to update
                    # this account's row (its counters); saving first would hold that row.
                    graph_services.privacy_set(user=user, is_private=bool(is_private))
                if changed:
                    user.save(update_fields=changed)
                if "email_verified_at" in changed:
                    queue_after_answer(tasks.send_verification_email, user.pk)
        except IntegrityError as exc:
            raise InvalidInput(
                "An account with this email already exists.", field="email", code="email_taken"
            ) from exc
    return user


PROFILE_IMAGES = {
    "avatar": (AVATAR_SIZE, media_services.AVATARS_UNDER),
    "header": (HEADER_SIZE, media_services.HEADERS_UNDER),
}


def profile_image_set(
    *, user: User, which: Literal["avatar", "header"], upload: IO[bytes] | None
) -> User:
    """Set (from an upload) or remove (None) the account's avatar or header. The new image is
    cropped to its size and re-encoded as any upload is; the old file is deleted once the
    change has committed."""
    size, under = PROFILE_IMAGES[which]
    new_name = (
        ""
        if upload is None
        else media_services.profile_image_store(upload=upload, size=size, under=under)
    )
    committed = False
    try:
        with transaction.atomic():
            # The name as stored now, under the row's lock: two changes racing each delete
            # only the file they replaced.
            old_name = (
                User.objects.select_for_update()
                .filter(pk=user.pk)
                .values_list(which, flat=True)
                .first()
            )
            if old_name is None:
                raise Http404("No such account.")  # deleted meanwhile
            User.objects.filter(pk=user.pk).update(**{which: new_name})
            media_services.stored_files_delete_after_commit([old_name])
        committed = True
    finally:
        if not committed:  # the row still names the old file: the new one is nobody's
            media_services.stored_files_delete_now([new_name])
    getattr(user, which).name = new_name
    return user


def password_reset_request(*, email: str) -> None:
    """Email a reset link to the active account with this address, if there is one. Says
    nothing either way, so the answer cannot tell who has an account. An address whose
    domain is not valid IDNA is refused: it tells nothing about accounts either."""
    user = User.objects.with_email(_email_normal_form(email)).filter(is_active=True)
    found = user.values_list("pk", flat=True).first()
    if found is not None:
        queue_after_answer(tasks.send_password_reset_email, found)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password with a reset link's uid and token, and sign out every device.

    The token is Django's: an HMAC over the user's password hash, last login, email and the
    time it was made, so it expires (PASSWORD_RESET_TIMEOUT) and stops working once the
    password changes. Checked on the row locked for the change, so of two requests racing
    with one token exactly one succeeds.
    """
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(INVALID_RESET_LINK, code="invalid_reset_link") from None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, token):
            raise InvalidInput(INVALID_RESET_LINK, code="invalid_reset_link")
        _check_new_password(new_password, user, field="new_password")
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)
    return user


def password_change(
    *, user: User, current_password: str, new_password: str, keep: AuthToken | None
) -> int:
    """Change a signed-in user's password. The current password is required (a stolen token
    alone must not lock the owner out). Every other device is signed out; the one asking
    (`keep`) stays signed in. Returns how many tokens were revoked."""
    if not user.check_password(current_password):
        raise InvalidInput(
            "Your current password is not right.",
            field="current_password",
            code="wrong_password",
        )
    _check_new_password(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        return tokens_revoke_all(user=user, keep=keep)


def email_verification_resend(*, user: User) -> bool:
    """Send the confirmation email again; False (and nothing sent) if already verified."""
    if user.email_verified:
        return False
    queue_after_answer(tasks.send_verification_email, user.pk)
    return True


def email_verify(*, token: str) -> User:
    """Mark the address in a verification token as confirmed, if it is still the account's.
    Verifying twice is harmless: the first moment stays recorded."""
    try:
        claim = signing.loads(
            token,
            salt=tasks.EMAIL_VERIFICATION_SALT,
            max_age=settings.EMAIL_VERIFICATION_TIMEOUT,
        )
    except signing.BadSignature:  # forged, mangled or expired (SignatureExpired)
        raise InvalidInput(INVALID_VERIFICATION_LINK, code="invalid_verification_link") from None
    user = User.objects.filter(pk=claim["user"], is_active=True).first()
    if user is None or email_key(user.email) != email_key(claim["email"]):
        raise InvalidInput(INVALID_VERIFICATION_LINK, code="invalid_verification_link")
    if user.email_verified_at is None:
        now = timezone.now()
        # Conditional, so a concurrent address change (which clears the mark) is not undone.
        User.objects.filter(pk=user.pk, email=user.email, email_verified_at=None).update(
            email_verified_at=now
        )
        user.email_verified_at = now
    return user


def account_delete(*, user: User, password: str) -> None:
    """Delete an account and everything it made, for good (docs/api.md, "Deleting an
    account"): its profile, tokens (its WebSockets close), posts with their comments,
    likes and reposts, its own comments, likes and reposts elsewhere, follows both ways,
    notifications to and from it, the messages it sent, and its uploads, avatar and header
    with their files.
    Conversations stay for the other participants.

    Other people's counters are corrected in the same transaction (followers, following,
    mutes, blocks, likes and comments of their posts), so nothing waits for
    `repair_counters`. The account's row is locked first: a follow, like or comment racing
    with the deletion either lands before it (and is counted here) or fails on the missing
    account.
    """
    if not user.check_password(password):
        raise InvalidInput(
            "Give your password to delete your account.",
            field="password",
            code="wrong_password",
        )
    account_erase(user=user)


def account_erase(*, user: User) -> None:
    """What `account_delete` does once the password is checked: also how a moderator deletes
    an account in the admin, so that others' counters and the account's files follow."""
    with transaction.atomic():
        profile_images = list(
            User.objects.select_for_update().filter(pk=user.pk).values_list("avatar", "header")
        )
        followed = Follow.objects.filter(follower=user).values("followee_id")
        User.objects.filter(pk__in=followed).update(followers_count=F("followers_count") - 1)
        followers = Follow.objects.filter(followee=user).values("follower_id")
        User.objects.filter(pk__in=followers).update(following_count=F("following_count") - 1)
        muters = Mute.objects.filter(muted=user).values("muter_id")
        User.objects.filter(pk__in=muters).update(muting_count=F("muting_count") - 1)
        blockers = Block.objects.filter(blocked=user).values("blocker_id")
        User.objects.filter(pk__in=blockers).update(blocking_count=F("blocking_count") - 1)
        blocked = Block.objects.filter(blocker=user).values("blocked_id")
        User.objects.filter(pk__in=blocked).update(blocked_by_count=F("blocked_by_count") - 1)
        liked = Like.objects.filter(user=user).values("post_id")
        Post.objects.filter(pk__in=liked).exclude(author=user).update(
            likes_count=F("likes_count") - 1
        )
        reposted = Repost.objects.filter(user=user).values("post_id")
        Post.objects.filter(pk__in=reposted).exclude(author=user).update(
            reposts_count=F("reposts_count") - 1
        )
        commented = Comment.objects.filter(author=user).values("post_id")
        Post.objects.filter(pk__in=commented).exclude(author=user).update(
            comments_count=F("comments_count") - _comments_by(user)
        )
        post_ids = list(Post.objects.filter(author=user).values_list("pk", flat=True))
        tags_of: dict[int, list[int]] = {}
        for post_id, tag_id in PostTag.objects.filter(post__author=user).values_list(
            "post_id", "tag_id"
        ):
            tags_of.setdefault(post_id, []).append(tag_id)
        conversation_ids = list(
            ConversationMember.objects.filter(user=user).values_list("conversation_id", flat=True)
        )
        # Locked: an upload whose background processing finishes meanwhile names its new
        # files by the time it is read here.
        uploads = list(MediaAttachment.objects.select_for_update().filter(owner=user))
        tokens_revoke_all(user=user)
        User.objects.filter(pk=user.pk).delete()  # cascades to everything above
        media_services.delete_files_after_commit(uploads)
        media_services.stored_files_delete_after_commit(
            [name for names in profile_images for name in names]
        )
        # A conversation whose last message was theirs previews the newest one left.
        newest_left = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
        Conversation.objects.filter(pk__in=conversation_ids, last_message=None).update(
            last_message=Subquery(newest_left.values("pk")[:1])
        )
        for post_id in post_ids:  # out of cached home timelines (distributed mode)
            feed_services.post_removed(post_id, user.pk, tags_of.get(post_id, []))


def _comments_by(user: User) -> Subquery:
    """How many comments `user` wrote on the outer post."""
    comments = (
        Comment.objects.filter(author=user, post=OuterRef("pk"))
        .order_by()
        .values("post")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Subquery(comments, output_field=models.IntegerField())
