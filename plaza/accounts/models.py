import hashlib
import secrets
import unicodedata
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from plaza.core.emails import InvalidEmailAddress, email_normal_form
from plaza.core.models import SnowflakeIdField

USERNAME_MAX_LENGTH = 30
DISPLAY_NAME_MAX_LENGTH = 50
BIO_MAX_LENGTH = 500
# What avatars and profile headers are cropped to, in pixels (Mastodon's sizes).
AVATAR_SIZE = (400, 400)
HEADER_SIZE = (1500, 500)
# A profile's name/value pairs (links, pronouns...): how many, and how long each part may be.
PROFILE_FIELDS_MAX = 4
PROFILE_FIELD_MAX_LENGTH = 255

username_validator = RegexValidator(
    r"^[A-Za-z0-9_]+\Z",
    "Use only letters, digits and underscores.",
    code="invalid_username",
)


_ZWJ = "\u200d"
_VIRAMA = 9  # the canonical combining class of viramas
# What may come between an emoji and the ZWJ that joins it to the next: variation selectors
# (U+FE0E, U+FE0F, category Mn) and skin tones (U+1F3FB-U+1F3FF, category Sk).
_EMOJI_TRAILERS = frozenset("\ufe0e\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
# Subdivision flags (🏴 + tag letters + cancel tag, e.g. Scotland's): the only use of tags.
_BLACK_FLAG, _CANCEL_TAG = "\U0001f3f4", "\U000e007f"
_TAG_LETTERS = range(0xE0020, 0xE007F)


_PICTOGRAPH_PLANE = range(0x1F000, 0x1FB00)  # where new emoji are still being assigned


def _is_emoji(character: str) -> bool:
    # Pictographs are "Other Symbol"; Python's unicodedata has no Extended_Pictographic. An
    # emoji newer than this Python's Unicode data is unassigned (Cn) to it.
    category = unicodedata.category(character)
    return category == "So" or (category == "Cn" and ord(character) in _PICTOGRAPH_PLANE)


def _joins(text: str, index: int) -> bool:
    """Whether the ZWJ at `index` is one a name needs: inside an emoji ZWJ sequence (👩‍💻),
    or after a virama, where it shapes a conjunct (Sinhala ශ්‍රී; RFC 5892's CONTEXTJ rule)."""
    if index == 0 or index + 1 == len(text):
        return False
    if unicodedata.combining(text[index - 1]) == _VIRAMA:
        return True
    before = index - 1
    while before > 0 and text[before] in _EMOJI_TRAILERS:
        before -= 1
    return _is_emoji(text[before]) and _is_emoji(text[index + 1])


def _tag_sequence_end(text: str, index: int) -> int | None:
    """Where the subdivision flag's tag run starting at `index` ends (after its cancel tag),
    if it is one: right after 🏴, tag letters, then the cancel tag."""
    if index == 0 or text[index - 1] != _BLACK_FLAG:
        return None
    end = index
    while end < len(text) and ord(text[end]) in _TAG_LETTERS:
        end += 1
    if end == index or end == len(text) or text[end] != _CANCEL_TAG:
        return None
    return end + 1


def first_invisible_character(text: str) -> str | None:
    """The first character of `text` a display name must not hold, or None.

    Refused: control characters (Unicode category Cc), line and paragraph separators (Zl,
    Zp) and invisible format characters (Cf): bidi embeddings, overrides, isolates and marks
    (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), zero-width space and non-joiner,
    word joiner, BOM, soft hyphen and the like. They let one name pass for another ("admin"
    with a zero-width space inside) or reverse what is shown after it. Kept, because emoji
    and some scripts
    need them: a ZWJ inside an emoji sequence or after a virama, and the tags of a
    subdivision flag. Variation selectors (category Mn) are not format characters.
    """
    index = 0
    while index < len(text):
        character = text[index]
        category = unicodedata.category(character)
        if category in ("Cc", "Zl", "Zp"):
            return character
        if category == "Cf":
            if character == _ZWJ and _joins(text, index):
                index += 1
                continue
            tags_end = _tag_sequence_end(text, index)
            if tags_end is None:
                return character
            index = tags_end
            continue
        index += 1
    return None


def validate_display_name(value: str) -> None:
    """The rule every path that sets a display name applies (the REST face through
    plaza.accounts.services.profile_update, the admin through the model field)."""
    found = first_invisible_character(value)
    if found is not None:
        name = unicodedata.name(found, "")
        raise ValidationError(
            "Display names cannot contain invisible or control characters: %(character)s.",
            code="invalid_display_name",
            params={"character": f"U+{ord(found):04X} {name}".strip()},
        )


class UserQuerySet(models.QuerySet["User"]):
    # Case-insensitive matches written as lower(column) = lower(value), the expression the
    # unique indexes below are built on. An __iexact lookup compiles to UPPER(...) = UPPER(...)
    # on PostgreSQL and LIKE on SQLite, which no index serves: a scan of every account.

    def with_username(self, username: str) -> "UserQuerySet":
        return self.alias(username_lower=Lower("username")).filter(
            username_lower=Lower(Value(username))
        )

    # Addresses are looked up by their normal form (plaza.core.emails), which is what is
    # stored: "x@éxample.com" finds "x@xn--xample-9ua.com". One with no normal form finds
    # nobody.

    def with_email(self, email: str) -> "UserQuerySet":
        try:
            normal = email_normal_form(email)
        except InvalidEmailAddress:
            return self.none()
        return self.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(normal)))

    def with_username_or_email(self, login: str) -> "UserQuerySet":
        if "@" in login:  # never in a username
            return self.with_email(login)
        return self.with_username(login)


class PlazaUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    def get_by_natural_key(self, username: str | None) -> "User":
        return self.with_username(username or "").get()

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        """The address in its normal form (plaza.core.emails), as every account stores it;
        Django calls this in create_user, create_superuser and User.clean (the admin's
        forms). A domain that is not valid IDNA is a ValidationError on `email`."""
        try:
            return email_normal_form(email or "")
        except InvalidEmailAddress as exc:
            raise ValidationError({"email": ValidationError(exc.message, code=exc.code)}) from exc


class User(AbstractUser):
    """An account. Counters are denormalised and kept exact by the services that change them
    (see plaza.graph.services and plaza.posts.services); `manage.py repair_counters` recomputes
    them after a crash or a manual edit."""

    # Time-sortable like every other id: "newest accounts first" is ORDER BY id DESC, and
    # ids do not reveal how many accounts exist.
    id = SnowflakeIdField()
    username = models.CharField(
        max_length=USERNAME_MAX_LENGTH,
        unique=True,
        validators=[username_validator],
        help_text="Letters, digits and underscores; unique regardless of case.",
        error_messages={"unique": "That username is taken."},
    )
    # Stored in its normal form (plaza.core.emails): the domain in IDNA ASCII, lower-cased.
    # The unique index on lower(email) below then holds one account per mailbox.
    email = models.EmailField("email address", max_length=254)
    display_name = models.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, blank=True, validators=[validate_display_name]
    )
    bio = models.TextField(max_length=BIO_MAX_LENGTH, blank=True)
    # Stored by plaza.accounts.services.profile_image_set, re-encoded, under random names.
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    header = models.ImageField(upload_to="headers/", blank=True)
    # [{"name": ..., "value": ...}], at most PROFILE_FIELDS_MAX, as the API validated them.
    profile_fields = models.JSONField(default=list, blank=True)
    # When the owner proved they receive mail at `email`; cleared when the address changes.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # A private account approves each follower (plaza.graph.services.follow_create), and only
    # those followers (and the owner) see its posts and the lists of its follows.
    is_private = models.BooleanField(default=False)

    followers_count = models.IntegerField(default=0)
    following_count = models.IntegerField(default=0)
    posts_count = models.IntegerField(default=0)
    # How many accounts this user mutes and blocks, and how many block them. Shown nowhere:
    # the viewer is loaded with the token anyway, so these tell every list, for free, whether
    # it has anything to leave out for this viewer. Most viewers mute and block nobody, and
    # their feed, posts, comments and notifications run the same statements as if blocks and
    # mutes did not exist (plaza.graph.selectors).
    muting_count = models.IntegerField(default=0)
    blocking_count = models.IntegerField(default=0)
    blocked_by_count = models.IntegerField(default=0)

    objects = PlazaUserManager()  # type: ignore[misc]

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def hides_anyone(self) -> bool:
        """Whether some accounts are hidden from this user: muted, blocked, or blocking."""
        return bool(self.muting_count or self.blocking_count or self.blocked_by_count)

    @property
    def name_to_show(self) -> str:
        return self.display_name or self.username


def hash_token(raw_token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (nothing to brute-force, no
    # salt needed) and lets authentication find the row by an indexed equality lookup.
    return hashlib.sha256(raw_token.encode()).hexdigest()


TOKEN_PREFIX = "plz_"  # noqa: S105 - a public marker, lets secret scanners spot leaked tokens


class AuthToken(models.Model):
    """A per-device API token. Only its SHA-256 digest is stored: a database leak reveals no
    usable token. Revoking is deleting the row."""

    id = SnowflakeIdField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    # The first characters of the token, safe to show so a user can tell their devices apart.
    hint = models.CharField(max_length=12)
    device = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user_id})"

    @classmethod
    def generate(cls, user: User, device: str = "") -> tuple["AuthToken", str]:
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, digest=hash_token(raw), hint=raw[:12], device=device[:100]
        )
        return token, raw

    def expires_at(self) -> datetime:
        return self.last_used_at + settings.TOKEN_IDLE_TTL

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.expires_at()
