"""Following (and asking to), unfollowing, answering follow requests, blocking, muting, and
the lists of followers, followed, blocked and muted accounts and of follow requests."""

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts.models import User
from plaza.accounts.selectors import user_by_username
from plaza.core.exceptions import NotPermitted
from plaza.core.throttling import FollowRateThrottle, throttles_with
from plaza.graph import selectors, services
from plaza.graph.models import Block, Follow, FollowRequest, Mute
from plaza.rest.common import UserSummarySerializer, error_responses, signed_in_user, viewer_of
from plaza.rest.permissions import VerifiedEmailToCreate


class FollowResultSerializer(serializers.Serializer):
    following = UserSummarySerializer(source="followee")
    created_at = serializers.DateTimeField()


class FollowRequestSentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The request's id.")
    user = UserSummarySerializer(source="target", help_text="The account you asked to follow.")
    requested_at = serializers.DateTimeField(source="created_at")


class FollowView(APIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    throttle_classes = throttles_with(FollowRateThrottle)

    @extend_schema(
        operation_id="users_follow",
        request=None,
        responses={
            201: FollowResultSerializer,
            200: FollowResultSerializer,
            202: FollowRequestSentSerializer,
            **error_responses(400, 401, 403, 404),
        },
        description="Follow this user: 201 when new, 200 when already following, 400 for "
        "yourself, 403 while either of you blocks the other (`blocked`, `blocking`). A "
        "private account is asked instead: 202 with the follow request, new or already "
        "waiting; you follow them once they accept it.",
    )
    def post(self, request: Request, username: str) -> Response:
        followee = user_by_username(username)
        follow, created = services.follow_create(
            follower=signed_in_user(request),
            followee=followee,
        )
        context = {"request": request}
        if isinstance(follow, FollowRequest):
            return Response(
                FollowRequestSentSerializer(follow, context=context).data,
                status=status.HTTP_202_ACCEPTED,
            )
        return Response(
            FollowResultSerializer(follow, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="users_unfollow",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Stop following this user, or withdraw your request to. 204 also when "
        "you were doing neither.",
    )
    def delete(self, request: Request, username: str) -> Response:
        followee = user_by_username(username)
        services.follow_delete(follower=signed_in_user(request), followee=followee)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowerItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="follower")
    followed_at = serializers.DateTimeField(source="created_at")


class FollowingItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="followee")
    followed_at = serializers.DateTimeField(source="created_at")


def _account_with_visible_follows(request: Request, username: str) -> User:
    """The account whose followers or followed accounts are listed: 403 `private_account`
    when it is private and the viewer neither is it nor follows it."""
    account = user_by_username(username)
    if not selectors.can_see_content_of(viewer_of(request), account):
        raise NotPermitted(
            "This account is private: only its followers see whom it follows and who follows it.",
            code="private_account",
        )
    return account


_PRIVATE_LISTS = " 403 `private_account` for a private account you do not follow."


@extend_schema_view(
    get=extend_schema(
        operation_id="users_followers",
        responses={200: FollowerItemSerializer(many=True), **error_responses(400, 403, 404)},
        description="Accounts following this user, most recent first." + _PRIVATE_LISTS,
    )
)
class FollowersView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = FollowerItemSerializer

    def get_queryset(self) -> QuerySet[Follow]:
        return selectors.followers_of(
            _account_with_visible_follows(self.request, self.kwargs["username"])
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="users_following",
        responses={200: FollowingItemSerializer(many=True), **error_responses(400, 403, 404)},
        description="Accounts this user follows, most recently followed first." + _PRIVATE_LISTS,
    )
)
class FollowingView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = FollowingItemSerializer

    def get_queryset(self) -> QuerySet[Follow]:
        return selectors.following_of(
            _account_with_visible_follows(self.request, self.kwargs["username"])
        )


class FollowerRemoveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_followers_remove",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Make this user stop following you, without blocking them: how a private "
        "account takes its posts back from someone it accepted. They are not told; they can "
        "ask again. 204 also when they were not following you.",
    )
    def delete(self, request: Request, username: str) -> Response:
        follower = user_by_username(username)
        services.follower_remove(user=signed_in_user(request), follower=follower)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowRequestItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Accept or reject with this id.")
    user = UserSummarySerializer(source="requester", help_text="Who asks to follow you.")
    requested_at = serializers.DateTimeField(source="created_at")


@extend_schema_view(
    get=extend_schema(
        operation_id="follow_requests_list",
        responses={200: FollowRequestItemSerializer(many=True), **error_responses(400, 401)},
        description="Requests to follow you that wait for your answer, newest first. Only a "
        "private account gets them.",
    )
)
class FollowRequestListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = FollowRequestItemSerializer

    def get_queryset(self) -> QuerySet[FollowRequest]:
        return selectors.follow_requests_to(signed_in_user(self.request))


class FollowRequestAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="follow_requests_accept",
        request=None,
        responses={200: FollowerItemSerializer, **error_responses(401, 404)},
        description="Accept this request: its author now follows you. 404 if it is not a "
        "request to you, or no longer waits (accepted, rejected or withdrawn).",
    )
    def post(self, request: Request, request_id: int) -> Response:
        follow = services.follow_request_accept(user=signed_in_user(request), request_id=request_id)
        return Response(FollowerItemSerializer(follow, context={"request": request}).data)


class FollowRequestRejectView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="follow_requests_reject",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Turn this request down; its author is not told and may ask again. 404 "
        "if it is not a request to you, or no longer waits.",
    )
    def post(self, request: Request, request_id: int) -> Response:
        services.follow_request_reject(user=signed_in_user(request), request_id=request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="blocked")
    blocked_at = serializers.DateTimeField(source="created_at")


class MuteItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="muted")
    muted_at = serializers.DateTimeField(source="created_at")


class _AccountPairView(APIView):
    """Blocking and muting answer alike: 201 or 200 with the pair, 204 on removal. A subclass
    names its serializer and its two services, and declares its schema."""

    # No email check: blocking and muting protect their author, so they stay open to
    # unverified accounts too.
    permission_classes = [IsAuthenticated]
    item_serializer: type[serializers.Serializer]

    def create_pair(self, user: User, other: User) -> tuple[Model, bool]:
        raise NotImplementedError

    def delete_pair(self, user: User, other: User) -> None:
        raise NotImplementedError

    def post(self, request: Request, username: str) -> Response:
        other = user_by_username(username)
        pair, created = self.create_pair(signed_in_user(request), other)
        return Response(
            self.item_serializer(pair, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def delete(self, request: Request, username: str) -> Response:
        other = user_by_username(username)
        self.delete_pair(signed_in_user(request), other)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        operation_id="users_block",
        request=None,
        responses={
            201: BlockItemSerializer,
            200: BlockItemSerializer,
            **error_responses(400, 401, 404),
        },
        description="Block this user: 201 when new, 200 when already blocked, 400 for "
        "yourself. Removes the follows between you, both ways.",
    ),
    delete=extend_schema(
        operation_id="users_unblock",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Unblock this user. 204 also when you were not blocking them.",
    ),
)
class BlockView(_AccountPairView):
    item_serializer = BlockItemSerializer

    def create_pair(self, user: User, other: User) -> tuple[Model, bool]:
        return services.block_create(blocker=user, blocked=other)

    def delete_pair(self, user: User, other: User) -> None:
        services.block_delete(blocker=user, blocked=other)


@extend_schema_view(
    post=extend_schema(
        operation_id="users_mute",
        request=None,
        responses={
            201: MuteItemSerializer,
            200: MuteItemSerializer,
            **error_responses(400, 401, 404),
        },
        description="Mute this user: 201 when new, 200 when already muted, 400 for yourself. "
        "Their posts, comments and notifications disappear for you; they are not told.",
    ),
    delete=extend_schema(
        operation_id="users_unmute",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Unmute this user. 204 also when you were not muting them.",
    ),
)
class MuteView(_AccountPairView):
    item_serializer = MuteItemSerializer

    def create_pair(self, user: User, other: User) -> tuple[Model, bool]:
        return services.mute_create(muter=user, muted=other)

    def delete_pair(self, user: User, other: User) -> None:
        services.mute_delete(muter=user, muted=other)


@extend_schema_view(
    get=extend_schema(
        operation_id="me_blocks",
        responses={200: BlockItemSerializer(many=True), **error_responses(400, 401)},
        description="Accounts you block, most recently blocked first.",
    )
)
class BlockListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = BlockItemSerializer

    def get_queryset(self) -> QuerySet[Block]:
        return selectors.blocks_by(signed_in_user(self.request))


@extend_schema_view(
    get=extend_schema(
        operation_id="me_mutes",
        responses={200: MuteItemSerializer(many=True), **error_responses(400, 401)},
        description="Accounts you mute, most recently muted first.",
    )
)
class MuteListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = MuteItemSerializer

    def get_queryset(self) -> QuerySet[Mute]:
        return selectors.mutes_by(signed_in_user(self.request))
