"""Following, unfollowing, and the lists of followers and followed accounts."""

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
from plaza.graph.models import Follow
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
            **error_responses(400, 401, 404),
        },
        description="Follow this user: 201 when new, 200 when already following, 400 for yourself.",
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
