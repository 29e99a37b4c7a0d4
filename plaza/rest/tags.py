"""Hashtags: a tag's page and its posts, following tags, and the trending ones."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.posts.models import Post
from plaza.posts.selectors import post_list
from plaza.rest.common import error_responses, signed_in_user, viewer_of
from plaza.rest.posts import PostPageMixin, PostSerializer
from plaza.tags import selectors, services
from plaza.tags.models import TagFollow
from plaza.tags.parsing import tag_normal_form
from plaza.tags.representations import tag_page_data, tags_data


class TagDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    uses = serializers.IntegerField(help_text="Public posts that used the tag that day.")
    accounts = serializers.IntegerField(help_text="The distinct accounts that wrote them.")


class TagSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The tag's normal form: composed, case-folded.")
    history = TagDaySerializer(
        many=True, help_text=f"The last {selectors.HISTORY_DAYS} days (UTC), newest first."
    )
    following = serializers.BooleanField(
        allow_null=True, help_text="Whether you follow it; null for anonymous readers."
    )


class TrendsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.TRENDS_MAX, required=False, default=10
    )


class TagView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="tags_retrieve",
        responses={200: TagSerializer, **error_responses(404)},
        description="A tag, any case: its use over the last days and whether you follow "
        "it. A tag nobody has used yet answers with zeros; a name that cannot be a tag "
        "(punctuation, digits only) is a 404.",
    )
    def get(self, request: Request, name: str) -> Response:
        tag = selectors.tag_by_name(name)
        return Response(tag_page_data(name, tag, viewer=viewer_of(request)))


@extend_schema_view(
    get=extend_schema(
        operation_id="tags_posts_list",
        responses={200: PostSerializer(many=True), **error_responses(400, 404)},
        description="Posts using the tag, newest first: public accounts' posts (and your "
        "own), less those of accounts you mute or block or that block you.",
    )
)
class TagPostsView(PostPageMixin, generics.ListAPIView):
    permission_classes = [AllowAny]

    def get_queryset(self) -> QuerySet[Post]:
        tag = selectors.tag_by_name(self.kwargs["name"])
        if tag is None:
            return Post.objects.none()
        return post_list(tag=tag, viewer=viewer_of(self.request))


class TagFollowResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    following = serializers.BooleanField()


class TagFollowView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="tags_follow",
        request=None,
        responses={
            201: TagFollowResultSerializer,
            200: TagFollowResultSerializer,
            **error_responses(401, 404),
        },
        description="Follow the tag: its public posts enter your home feed. 201 when new, "
        "200 when you already follow it.",
    )
    def post(self, request: Request, name: str) -> Response:
        selectors.tag_by_name(name)  # 404 for a name that cannot be a tag
        created = services.tag_follow_create(user=signed_in_user(request), name=name)
        return Response(
            {"name": tag_normal_form(name), "following": True},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="tags_unfollow",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Stop following the tag: 204, also when you did not follow it.",
    )
    def delete(self, request: Request, name: str) -> Response:
        selectors.tag_by_name(name)
        services.tag_follow_delete(user=signed_in_user(request), name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        operation_id="me_tags_list",
        responses={200: TagSerializer(many=True), **error_responses(400, 401)},
        description="The tags you follow, most recently followed first.",
    )
)
class FollowedTagsView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = TagSerializer

    def get_queryset(self) -> QuerySet[TagFollow]:
        return selectors.tag_follows_of(signed_in_user(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        tags = [follow.tag for follow in page]
        return self.get_paginated_response(tags_data(tags, viewer=signed_in_user(request)))


class TrendingTagsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="trends_tags",
        parameters=[TrendsQuerySerializer],
        responses={200: TagSerializer(many=True), **error_responses(400)},
        description="The tags the most distinct public accounts used since yesterday began "
        f"(UTC), most first: `limit` of them (default 10, at most {selectors.TRENDS_MAX}).",
    )
    def get(self, request: Request) -> Response:
        query = TrendsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tags = selectors.trending_tags(limit=query.validated_data["limit"])
        return Response(tags_data(tags, viewer=viewer_of(request)))
