"""Following, unfollowing, blocking, muting, and the lists of followers, followed, blocked
and muted accounts."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts.selectors import user_by_username
from plaza.core.throttling import FollowRateThrottle, throttles_with
from plaza.graph import selectors, services
from plaza.graph.models import Block, Follow, Mute
from plaza.rest.common import UserSummarySerializer, error_responses, signed_in_user
from plaza.rest.permissions import VerifiedEmailToCreate


class FollowResultSerializer(serializers.Serializer):
    following = UserSummarySerializer(source="followee")
    created_at = serializers.DateTimeField()


class FollowView(APIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    throttle_classes = throttles_with(FollowRateThrottle)

    @extend_schema(
        operation_id="users_follow",
        request=None,
        responses={
            201: FollowResultSerializer,
            200: FollowResultSerializer,
            **error_responses(400, 401, 403, 404),
        },
        description="Follow this user: 201 when new, 200 when already following, 400 for "
        "yourself, 403 while either of you blocks the other (`blocked`, `blocking`).",
    )
    def post(self, request: Request, username: str) -> Response:
        followee = user_by_username(username)
        follow, created = services.follow_create(
            follower=signed_in_user(request),
            followee=followee,
        )
        return Response(
            FollowResultSerializer(follow, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="users_unfollow",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Stop following this user. 204 also when you were not following.",
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


class FollowersView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = FollowerItemSerializer

    def get_queryset(self) -> QuerySet[Follow]:
        return selectors.followers_of(user_by_username(self.kwargs["username"]))

    @extend_schema(
        operation_id="users_followers",
        responses={200: FollowerItemSerializer(many=True), **error_responses(400, 404)},
        description="Accounts following this user, most recent first.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class FollowingView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = FollowingItemSerializer

    def get_queryset(self) -> QuerySet[Follow]:
        return selectors.following_of(user_by_username(self.kwargs["username"]))

    @extend_schema(
        operation_id="users_following",
        responses={200: FollowingItemSerializer(many=True), **error_responses(400, 404)},
        description="Accounts this user follows, most recently followed first.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class BlockItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="blocked")
    blocked_at = serializers.DateTimeField(source="created_at")


class MuteItemSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="muted")
    muted_at = serializers.DateTimeField(source="created_at")


class BlockView(APIView):
    # No email check: blocking protects its author, so it is open to unverified accounts too.
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_block",
        request=None,
        responses={
            201: BlockItemSerializer,
            200: BlockItemSerializer,
            **error_responses(400, 401, 404),
        },
        description="Block this user: 201 when new, 200 when already blocked, 400 for "
        "yourself. Removes the follows between you, both ways.",
    )
    def post(self, request: Request, username: str) -> Response:
        blocked = user_by_username(username)
        block, created = services.block_create(blocker=signed_in_user(request), blocked=blocked)
        return Response(
            BlockItemSerializer(block, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="users_unblock",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Unblock this user. 204 also when you were not blocking them.",
    )
    def delete(self, request: Request, username: str) -> Response:
        blocked = user_by_username(username)
        services.block_delete(blocker=signed_in_user(request), blocked=blocked)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MuteView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_mute",
        request=None,
        responses={
            201: MuteItemSerializer,
            200: MuteItemSerializer,
            **error_responses(400, 401, 404),
        },
        description="Mute this user: 201 when new, 200 when already muted, 400 for yourself. "
        "Their posts, comments and notifications disappear for you; they are not told.",
    )
    def post(self, request: Request, username: str) -> Response:
        muted = user_by_username(username)
        mute, created = services.mute_create(muter=signed_in_user(request), muted=muted)
        return Response(
            MuteItemSerializer(mute, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="users_unmute",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Unmute this user. 204 also when you were not muting them.",
    )
    def delete(self, request: Request, username: str) -> Response:
        muted = user_by_username(username)
        services.mute_delete(muter=signed_in_user(request), muted=muted)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = BlockItemSerializer

    def get_queryset(self) -> QuerySet[Block]:
        return selectors.blocks_by(signed_in_user(self.request))

    @extend_schema(
        operation_id="me_blocks",
        responses={200: BlockItemSerializer(many=True), **error_responses(400, 401)},
        description="Accounts you block, most recently blocked first.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class MuteListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = MuteItemSerializer

    def get_queryset(self) -> QuerySet[Mute]:
        return selectors.mutes_by(signed_in_user(self.request))

    @extend_schema(
        operation_id="me_mutes",
        responses={200: MuteItemSerializer(many=True), **error_responses(400, 401)},
        description="Accounts you mute, most recently muted first.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
