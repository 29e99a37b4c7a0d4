"""Accounts: sign-up, sign-in, tokens, the signed-in user, profiles and user search."""

from typing import Any, Literal, cast

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts import selectors, services
from plaza.accounts.export import account_export
from plaza.accounts.models import (
    AVATAR_SIZE,
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    HEADER_SIZE,
    PROFILE_FIELD_MAX_LENGTH,
    PROFILE_FIELDS_MAX,
    USERNAME_MAX_LENGTH,
    AuthToken,
    User,
    username_validator,
)
from plaza.core.throttling import (
    AccountPasswordCheckRateThrottle,
    LoginRateThrottle,
    MediaUploadRateThrottle,
    PasswordCheckRateThrottle,
    SignupRateThrottle,
    throttles_with,
)
from plaza.rest.common import (
    UserFieldsSerializer,
    UserSummarySerializer,
    error_responses,
    signed_in_user,
)
from plaza.rest.media import ImageFileSerializer, within_upload_limit

PASSWORD_MAX_LENGTH = 128  # argon2 would happily hash megabytes; nobody's password is that long


def password_field(help_text: str | None = None) -> serializers.CharField:
    """A password as a request gives it: bounded, never echoed, spaces kept (they count)."""
    return serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, write_only=True, trim_whitespace=False, help_text=help_text
    )


@extend_schema_field({"type": "boolean", "nullable": True})
class RelationshipFlagField(serializers.Field):
    """One of the viewer's `selectors.Relationship` flags, named by the field, taken from
    the serializer's `relationship` context: null when there is none (an anonymous viewer)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: User) -> bool | None:
        relationship: selectors.Relationship | None = self.context.get("relationship")
        if relationship is None:
            return None
        # Only a bound field is rendered, and binding gives it its name.
        return bool(getattr(relationship, cast(str, self.field_name)))


class ProfileFieldSerializer(serializers.Serializer):
    """One of a profile's name/value pairs: a link, pronouns, a location."""

    name = serializers.CharField(max_length=PROFILE_FIELD_MAX_LENGTH)
    value = serializers.CharField(max_length=PROFILE_FIELD_MAX_LENGTH, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        # Both parts, even inside a PATCH (whose partial validation reaches nested fields).
        if "name" not in attrs:
            raise serializers.ValidationError({"name": ["This field is required."]})
        return {"name": attrs["name"], "value": attrs.get("value", "")}


class ProfileSerializer(UserFieldsSerializer):
    """A public profile. The viewer's relationship to the account (`is_following`,
    `follow_requested`, `follows_you`, `is_blocking`, `blocks_you`, `is_muting`) is null for
    anonymous viewers."""

    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    is_private = serializers.BooleanField(
        read_only=True,
        help_text="Followers need this account's approval, and only they see its posts and "
        "its lists of follows.",
    )
    is_following = RelationshipFlagField()
    follow_requested = RelationshipFlagField(
        help_text="You asked to follow this private account; it has not answered yet."
    )
    follows_you = RelationshipFlagField()
    is_blocking = RelationshipFlagField(help_text="You block this account.")
    blocks_you = RelationshipFlagField(
        help_text="This account blocks you: you cannot follow, message or see its posts."
    )
    is_muting = RelationshipFlagField(help_text="You mute this account.")

    header = serializers.ImageField(read_only=True, allow_null=True, use_url=True)
    profile_fields = ProfileFieldSerializer(many=True, read_only=True)

    class Meta(UserFieldsSerializer.Meta):
        fields = [
            *UserFieldsSerializer.Meta.fields,
            "header",
            "bio",
            "profile_fields",
            "followers_count",
            "following_count",
            "posts_count",
            "created_at",
            "is_private",
            "is_following",
            "follow_requested",
            "follows_you",
            "is_blocking",
            "blocks_you",
            "is_muting",
        ]
        read_only_fields = fields


class MeSerializer(UserFieldsSerializer):
    """The signed-in user's own account, with private fields."""

    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    email_verified = serializers.BooleanField(
        read_only=True, help_text="Whether the owner has confirmed `email` (see the email)."
    )
    is_private = serializers.BooleanField(
        read_only=True, help_text="Whether following you needs your approval."
    )

    header = serializers.ImageField(read_only=True, allow_null=True, use_url=True)
    profile_fields = ProfileFieldSerializer(many=True, read_only=True)

    class Meta(UserFieldsSerializer.Meta):
        fields = [
            *UserFieldsSerializer.Meta.fields,
            "header",
            "profile_fields",
            "email",
            "email_verified",
            "is_private",
            "bio",
            "followers_count",
            "following_count",
            "posts_count",
            "created_at",
        ]
        read_only_fields = fields


class MeUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, allow_blank=True, required=False
    )
    bio = serializers.CharField(max_length=BIO_MAX_LENGTH, allow_blank=True, required=False)
    profile_fields = serializers.ListField(
        child=ProfileFieldSerializer(),
        required=False,
        max_length=PROFILE_FIELDS_MAX,
        help_text=f"Up to {PROFILE_FIELDS_MAX} name/value pairs shown on your profile, in "
        "order; the list replaces the ones you had ([] removes them).",
    )
    email = serializers.EmailField(max_length=254, required=False)
    is_private = serializers.BooleanField(
        required=False,
        help_text="Private: each follower needs your approval (GET /api/follow-requests/), "
        "and only followers see your posts and lists of follows. Going public accepts every "
        "pending request.",
    )
    current_password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        help_text="Required to change the email address.",
    )


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(
        min_length=1, max_length=USERNAME_MAX_LENGTH, validators=[username_validator]
    )
    email = serializers.EmailField(max_length=254)
    password = password_field()
    device = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Names this token's device."
    )


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="Username or email address.")
    password = password_field()
    device = serializers.CharField(max_length=100, required=False, allow_blank=True)


AuthResultSerializer = inline_serializer(
    "AuthResult",
    {
        "user": MeSerializer(),
        "token": serializers.CharField(
            help_text="Send as `Authorization: Bearer <token>` (or `Token <token>`)."
        ),
    },
)


def _auth_result(request: Request, user: User, token: str, status_code: int) -> Response:
    return Response(
        {"user": MeSerializer(user, context={"request": request}).data, "token": token},
        status=status_code,
    )


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = throttles_with(SignupRateThrottle)

    @extend_schema(
        operation_id="auth_register",
        request=RegisterSerializer,
        responses={201: AuthResultSerializer, **error_responses(400)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_register(**data.validated_data)
        return _auth_result(request, user, token, status.HTTP_201_CREATED)


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = throttles_with(LoginRateThrottle)

    @extend_schema(
        operation_id="auth_login",
        request=LoginSerializer,
        responses={200: AuthResultSerializer, **error_responses(400)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_login(
            login=data.validated_data["username"],
            password=data.validated_data["password"],
            device=data.validated_data.get("device", ""),
        )
        return _auth_result(request, user, token, status.HTTP_200_OK)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: None, **error_responses(401)},
        description="Revoke the token this request was made with.",
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_logout_all",
        request=None,
        responses={204: None, **error_responses(401)},
        description="Revoke every token of the signed-in user (sign out everywhere).",
    )
    def post(self, request: Request) -> Response:
        services.tokens_revoke_all(user=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountDeleteSerializer(serializers.Serializer):
    password = password_field()


class ProfileImageView(APIView):
    """PUT a new avatar or header (a multipart form with `file`), or DELETE it."""

    which: Literal["avatar", "header"]
    permission_classes = [IsAuthenticated]
    throttle_classes = throttles_with(MediaUploadRateThrottle)
    parser_classes = [MultiPartParser]

    def put(self, request: Request) -> Response:
        data = ImageFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.profile_image_set(
            user=signed_in_user(request),
            which=self.which,
            upload=within_upload_limit(data.validated_data["file"]),
        )
        return Response(MeSerializer(user, context={"request": request}).data)

    def delete(self, request: Request) -> Response:
        services.profile_image_set(user=signed_in_user(request), which=self.which, upload=None)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _profile_image_schema(which: str, size: tuple[int, int]) -> Any:
    width, height = size
    return extend_schema_view(
        put=extend_schema(
            operation_id=f"me_{which}_set",
            request={"multipart/form-data": ImageFileSerializer},
            responses={200: MeSerializer, **error_responses(400, 401, 413, 415)},
            description=f"Set your {which}: cropped from the centre to {width}x{height} "
            "pixels and re-encoded without metadata.",
        ),
        delete=extend_schema(
            operation_id=f"me_{which}_remove",
            responses={204: None, **error_responses(401)},
            description=f"Remove your {which}.",
        ),
    )


@_profile_image_schema("avatar", AVATAR_SIZE)
class AvatarView(ProfileImageView):
    which = "avatar"


@_profile_image_schema("header", HEADER_SIZE)
class HeaderView(ProfileImageView):
    which = "header"


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    # Changing the email (current_password) and deleting the account (password) check a
    # password: they spend the sign-in budget.
    throttle_classes = throttles_with(PasswordCheckRateThrottle, AccountPasswordCheckRateThrottle)
    delete_takes_body = True  # the password (plaza.rest.schema documents it)

    @extend_schema(
        operation_id="me_retrieve", responses={200: MeSerializer, **error_responses(401)}
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        operation_id="me_update",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **error_responses(400, 401)},
        description="Change display_name, bio, profile_fields, email or is_private. Other "
        "fields are ignored.",
    )
    def patch(self, request: Request) -> Response:
        data = MeUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=signed_in_user(request), **data.validated_data)
        return Response(MeSerializer(user, context={"request": request}).data)

    @extend_schema(
        operation_id="me_delete",
        request=AccountDeleteSerializer,
        responses={204: None, **error_responses(400, 401)},
        description=(
            "Delete your account and everything it made, for good: posts, comments, likes, "
            "follows, notifications, sent messages, tokens. Needs your password. Export first "
            "(GET /api/me/export/) to keep a copy."
        ),
    )
    def delete(self, request: Request) -> Response:
        data = AccountDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_delete(
            user=signed_in_user(request), password=data.validated_data["password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_export",
        responses={200: OpenApiTypes.OBJECT, **error_responses(401)},
        description=(
            "Everything your account owns as one JSON document: profile, devices, posts, "
            "comments, likes, uploads, follows both ways, notifications, and your "
            "conversations with all their messages. Served as a download "
            "(Content-Disposition: attachment)."
        ),
    )
    def get(self, request: Request) -> Response:
        user = signed_in_user(request)
        response = Response(account_export(user, request))
        filename = f"plaza-{user.username}-{timezone.now():%Y%m%d}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class UserQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        max_length=selectors.MAX_SEARCH_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Part of a username or display name.",
    )
    q = serializers.CharField(
        max_length=selectors.MAX_SEARCH_LENGTH,
        required=False,
        allow_blank=True,
        help_text="The same as `search`, under the name Mastodon clients use. Give one of the "
        "two: both at once is a 400.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "q" in attrs and "search" in attrs:
            # Refused rather than one silently winning: a client sending both is confused.
            raise serializers.ValidationError({"q": ["Give either q or search, not both."]})
        return attrs


@extend_schema_view(
    get=extend_schema(
        operation_id="users_list",
        parameters=[UserQuerySerializer],
        responses={200: UserSummarySerializer(many=True), **error_responses(400)},
    )
)
class UserListView(generics.ListAPIView):
    serializer_class = UserSummarySerializer
    permission_classes = [AllowAny]

    def get_queryset(self) -> QuerySet[User]:
        # Validated like a body: a NUL byte or a 10 kB search is a 400, not a database error.
        query = UserQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        terms = query.validated_data
        return selectors.user_search(query=terms.get("search", terms.get("q", "")))


class UserDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="users_retrieve", responses={200: ProfileSerializer, **error_responses(404)}
    )
    def get(self, request: Request, username: str) -> Response:
        user = selectors.user_by_username(username)
        context: dict[str, Any] = {"request": request}
        if request.user.is_authenticated:
            context["relationship"] = selectors.relationship_between(
                viewer=signed_in_user(request),
                other=user,
            )
        return Response(ProfileSerializer(user, context=context).data)
