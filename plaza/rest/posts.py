"""Posts, comments, likes, reposts, bookmarks and pins."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.accounts.models import USERNAME_MAX_LENGTH, User
from plaza.accounts.selectors import user_by_username
from plaza.core.pagination import OldestFirstPagination
from plaza.core.throttling import PostingRateThrottle, throttles_with
from plaza.media.models import ATTACHMENTS_PER_POST
from plaza.posts import selectors, services
from plaza.posts.models import (
    COMMENT_MAX_LENGTH,
    CONTENT_MAX_LENGTH,
    PINS_PER_ACCOUNT,
    SPOILER_TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Bookmark,
    Comment,
    Like,
    Post,
    PostEdit,
    Repost,
    Visibility,
)
from plaza.posts.representations import (
    new_post_data,
    post_data,
    post_versions_data,
    posts_data,
)
from plaza.posts.selectors import ViewerMarks
from plaza.rest.common import (
    IdField,
    UserSummarySerializer,
    error_responses,
    signed_in_user,
    viewer_of,
)
from plaza.rest.media import MediaAttachmentSerializer
from plaza.rest.permissions import IsAuthorOrReadOnly, VerifiedEmailToCreate


class MentionEntitySerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`mention`")
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    username = serializers.CharField()
    id = serializers.CharField(help_text="The account mentioned (its profile: by username).")


class HashtagEntitySerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`hashtag`")
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    name = serializers.CharField(help_text="The tag's normal form (GET /api/tags/{name}/).")


class LinkEntitySerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`link`")
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    url = serializers.CharField()


ENTITIES_SCHEMA = PolymorphicProxySerializer(
    component_name="Entity",
    serializers={
        "mention": MentionEntitySerializer,
        "hashtag": HashtagEntitySerializer,
        "link": LinkEntitySerializer,
    },
    resource_type_field_name="type",
    many=True,
)


class PostSerializer(serializers.ModelSerializer):
    """A post as every endpoint renders it, with its images in order. `liked_by_me`,
    `bookmarked_by_me`, `pinned_by_me` and `reposted_by_me` are null for anonymous
    viewers."""

    id = serializers.CharField(read_only=True)
    author = UserSummarySerializer(read_only=True)
    spoiler_text = serializers.CharField(
        read_only=True,
        help_text="A content warning: clients show it in place of the content (and the "
        "pictures) until the reader opens the post. Empty when there is none.",
    )
    sensitive = serializers.BooleanField(
        read_only=True,
        help_text="Hide the pictures until the reader opens them. Always true when there is "
        "a content warning.",
    )
    entities = serializers.SerializerMethodField(
        help_text="What the content refers to, in order: mentions of local accounts, "
        "hashtags and links, each with its `start` (inclusive) and `end` (exclusive) in "
        "Unicode code points of `content`."
    )
    visibility = serializers.ChoiceField(
        choices=Visibility.choices,
        read_only=True,
        help_text="Who may read it: `public` (everywhere), `unlisted` (not in the public "
        "timeline, tag pages, trends or search), `followers` (the author's followers), "
        "`direct` (only the accounts it mentions). A private account's posts reach only its "
        "followers and those they mention, whatever this says.",
    )
    media_attachments = MediaAttachmentSerializer(many=True, read_only=True, source="media")
    edited_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When what readers see last changed (GET /api/posts/{id}/history/); null "
        "if never.",
    )
    liked_by_me = serializers.SerializerMethodField()
    bookmarked_by_me = serializers.SerializerMethodField()
    pinned_by_me = serializers.SerializerMethodField(
        help_text="Whether you pinned it to your profile (only your own posts can be)."
    )
    reposted_by_me = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = [
            "id",
            "author",
            "title",
            "content",
            "spoiler_text",
            "sensitive",
            "entities",
            "visibility",
            "media_attachments",
            "created_at",
            "updated_at",
            "edited_at",
            "likes_count",
            "comments_count",
            "reposts_count",
            "liked_by_me",
            "bookmarked_by_me",
            "pinned_by_me",
            "reposted_by_me",
        ]
        read_only_fields = fields

    @extend_schema_field(ENTITIES_SCHEMA)
    def get_entities(self, post: Post) -> list[dict[str, Any]]:
        return post.entities

    def get_liked_by_me(self, post: Post) -> bool | None:
        marks: ViewerMarks | None = self.context.get("marks")
        return None if marks is None else post.pk in marks.liked

    def get_bookmarked_by_me(self, post: Post) -> bool | None:
        marks: ViewerMarks | None = self.context.get("marks")
        return None if marks is None else post.pk in marks.bookmarked

    def get_pinned_by_me(self, post: Post) -> bool | None:
        marks: ViewerMarks | None = self.context.get("marks")
        return None if marks is None else post.pk in marks.pinned

    def get_reposted_by_me(self, post: Post) -> bool | None:
        marks: ViewerMarks | None = self.context.get("marks")
        return None if marks is None else post.pk in marks.reposted

    def to_representation(self, instance: Post) -> dict[str, Any]:
        return post_data(
            instance,
            attachments=self.context["attachments_by_post"].get(instance.pk, []),
            request=self.context.get("request"),
            marks=self.context.get("marks"),
        )


class PostWriteSerializer(serializers.Serializer):
    """A new post, or an edit. On POST and PUT, text fields left out are empty and
    `sensitive` false; on PATCH, fields left out keep their values. The post must keep
    content or pictures."""

    title = serializers.CharField(
        max_length=TITLE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional: a heading shown above the content.",
    )
    content = serializers.CharField(
        max_length=CONTENT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="The text. Required unless `media_ids` attaches pictures (400 `empty_post`).",
    )
    spoiler_text = serializers.CharField(
        max_length=SPOILER_TEXT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="A content warning, shown in place of the content until the reader opens "
        "the post. Setting one makes the post `sensitive`.",
    )
    sensitive = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Hide the pictures until the reader opens them.",
    )
    visibility = serializers.ChoiceField(
        choices=Visibility.choices,
        required=False,
        help_text="Who may read it (see the post's `visibility`): `followers` by default for "
        "a private account, `public` for others. Fixed once published: an edit naming "
        "another answers 400 `visibility_fixed`.",
    )
    media_ids = serializers.ListField(
        child=IdField(),
        max_length=ATTACHMENTS_PER_POST,
        required=False,
        help_text=f"Up to {ATTACHMENTS_PER_POST} of your uploads (POST /api/media/), in the "
        "order to show them: unattached ones, or this post's own. On an edit, the list "
        "replaces the post's attachments ([] takes them all off).",
    )


class PostQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        max_length=selectors.MAX_SEARCH_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Text to find in the title or content (any case).",
    )
    author = serializers.CharField(
        max_length=USERNAME_MAX_LENGTH, required=False, help_text="Only this user's posts."
    )
    only_media = serializers.BooleanField(
        required=False, default=False, help_text="Only posts with pictures (`true`)."
    )
    pinned = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only the posts their authors pinned (`true`; with `author`, the top of a "
        "profile).",
    )


def render_posts(request: Request, posts: list[Post]) -> list[dict[str, Any]]:
    """A page of posts as the request's viewer sees them (their likes and bookmarks loaded
    in one query)."""
    return posts_data(posts, viewer=viewer_of(request), request=request)


class PostPageMixin(generics.GenericAPIView):
    """List views whose items are posts."""

    serializer_class = PostSerializer

    def load_page(self, page: list[Any]) -> list[Post]:
        """Turn the paginator's rows into posts; views that page over ids load them here."""
        return page

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.load_page(self.paginate_queryset(self.get_queryset()) or [])
        return self.get_paginated_response(render_posts(request, page))


@extend_schema_view(
    get=extend_schema(
        operation_id="posts_list",
        parameters=[PostQuerySerializer],
        responses={200: PostSerializer(many=True), **error_responses(400)},
        description="All posts, newest first, less those of accounts you mute or block or "
        "that block you. Without `author`, private accounts' posts are left out (your own "
        "excepted); with `author`, a private account's posts are listed to its followers only.",
    )
)
class PostListView(PostPageMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly, VerifiedEmailToCreate]
    throttle_classes = throttles_with(PostingRateThrottle)

    def get_queryset(self) -> QuerySet[Post]:
        query = PostQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        author_name = query.validated_data.get("author")
        author: User | None = None
        if author_name:
            try:
                author = user_by_username(author_name)
            except Http404 as exc:
                raise serializers.ValidationError(
                    {"author": [f"No user named {author_name!r}."]}
                ) from exc
        return selectors.post_list(
            search=query.validated_data.get("search", ""),
            author=author,
            viewer=viewer_of(self.request),
            only_media=query.validated_data["only_media"],
            pinned=query.validated_data["pinned"],
        )

    @extend_schema(
        operation_id="posts_create",
        request=PostWriteSerializer,
        responses={201: PostSerializer, **error_responses(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = PostWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_create(author=signed_in_user(request), **data.validated_data)
        return Response(new_post_data(post, request=request), status=status.HTTP_201_CREATED)


class PostDetailView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly, IsAuthorOrReadOnly]

    def _render(self, request: Request, post: Post) -> Response:
        return Response(render_posts(request, [post])[0])

    def _get_post(self, request: Request, post_id: int) -> Post:
        post = selectors.post_by_id(post_id, viewer=viewer_of(request))
        self.check_object_permissions(request, post)
        return post

    @extend_schema(
        operation_id="posts_retrieve", responses={200: PostSerializer, **error_responses(404)}
    )
    def get(self, request: Request, post_id: int) -> Response:
        return self._render(request, self._get_post(request, post_id))

    @extend_schema(
        operation_id="posts_replace",
        request=PostWriteSerializer,
        responses={200: PostSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, post_id: int) -> Response:
        return self._update(request, post_id, partial=False)

    @extend_schema(
        operation_id="posts_update",
        request=PostWriteSerializer(partial=True),
        responses={200: PostSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, post_id: int) -> Response:
        return self._update(request, post_id, partial=True)

    def _update(self, request: Request, post_id: int, *, partial: bool) -> Response:
        post = self._get_post(request, post_id)
        data = PostWriteSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return self._render(request, services.post_update(post=post, **data.validated_data))

    @extend_schema(
        operation_id="posts_destroy", responses={204: None, **error_responses(401, 403, 404)}
    )
    def delete(self, request: Request, post_id: int) -> Response:
        services.post_delete(post=self._get_post(request, post_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    post_id = serializers.CharField(read_only=True)
    author = UserSummarySerializer(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "post_id", "author", "content", "created_at", "updated_at"]
        read_only_fields = fields


class CommentWriteSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=COMMENT_MAX_LENGTH)


@extend_schema_view(
    get=extend_schema(
        operation_id="posts_comments_list",
        responses={200: CommentSerializer(many=True), **error_responses(400, 404)},
        description="Comments on this post, oldest first, less those by accounts you mute "
        "or block or that block you.",
    )
)
class PostCommentsView(generics.ListAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly, VerifiedEmailToCreate]
    throttle_classes = throttles_with(PostingRateThrottle)
    serializer_class = CommentSerializer
    pagination_class = OldestFirstPagination

    def get_queryset(self) -> QuerySet[Comment]:
        viewer = viewer_of(self.request)
        post = selectors.post_by_id(self.kwargs["post_id"], viewer=viewer)
        return selectors.comments_for_post(post, viewer=viewer)

    @extend_schema(
        operation_id="posts_comments_create",
        request=CommentWriteSerializer,
        responses={201: CommentSerializer, **error_responses(400, 401, 403, 404)},
        description="Comment on this post. 403 `blocking` on the post of someone you block; "
        "the post of someone who blocks you is a 404.",
    )
    def post(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        data = CommentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(
            author=user,
            post=post,
            content=data.validated_data["content"],
        )
        return Response(
            CommentSerializer(comment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class CommentDetailView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly, IsAuthorOrReadOnly]

    def _get_comment(self, request: Request, comment_id: int, *, deleting: bool = False) -> Comment:
        # Deleting one's own comment stays possible after the post's author blocked you or
        # stopped letting you follow them.
        if deleting:
            comment = selectors.comment_to_delete(comment_id, viewer=signed_in_user(request))
        else:
            comment = selectors.comment_by_id(comment_id, viewer=viewer_of(request))
        self.check_object_permissions(request, comment)
        return comment

    @extend_schema(
        operation_id="comments_retrieve", responses={200: CommentSerializer, **error_responses(404)}
    )
    def get(self, request: Request, comment_id: int) -> Response:
        comment = self._get_comment(request, comment_id)
        return Response(CommentSerializer(comment, context={"request": request}).data)

    @extend_schema(
        operation_id="comments_update",
        request=CommentWriteSerializer,
        responses={200: CommentSerializer, **error_responses(400, 401, 403, 404)},
        description="Edit the content. A comment stays on its post: other fields are ignored. "
        "Without `content`, nothing changes.",
    )
    def patch(self, request: Request, comment_id: int) -> Response:
        comment = self._get_comment(request, comment_id)
        # Partial, as PATCH is and as the schema documents it (every field optional).
        data = CommentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "content" in data.validated_data:
            comment = services.comment_update(
                comment=comment, content=data.validated_data["content"]
            )
        return Response(CommentSerializer(comment, context={"request": request}).data)

    @extend_schema(
        operation_id="comments_destroy", responses={204: None, **error_responses(401, 403, 404)}
    )
    def delete(self, request: Request, comment_id: int) -> Response:
        services.comment_delete(comment=self._get_comment(request, comment_id, deleting=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LikeResultSerializer(serializers.Serializer):
    post_id = serializers.CharField()
    liked = serializers.BooleanField()
    likes_count = serializers.IntegerField()


class LikeView(APIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]

    @extend_schema(
        operation_id="posts_like",
        request=None,
        responses={
            201: LikeResultSerializer,
            200: LikeResultSerializer,
            **error_responses(401, 403, 404),
        },
        description="Like this post: 201 when new, 200 when you already liked it. 403 "
        "`blocking` on the post of someone you block; the post of someone who blocks you is "
        "a 404.",
    )
    def post(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        result = services.like_create(user=user, post=post)
        return Response(
            {"post_id": str(post.pk), "liked": True, "likes_count": result.likes_count},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="posts_unlike",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Remove your like. 204 also when you had not liked it, or after the post "
        "went out of your sight if you had; 404 for a post you may not see and had not liked.",
    )
    def delete(self, request: Request, post_id: int) -> Response:
        # Taking back one's own like stays possible whoever may see the post now.
        post = selectors.post_to_unlike(post_id, viewer=signed_in_user(request))
        services.like_delete(user=signed_in_user(request), post=post)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LikeItemSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    liked_at = serializers.DateTimeField(source="created_at")


@extend_schema_view(
    get=extend_schema(
        operation_id="posts_likes_list",
        responses={200: LikeItemSerializer(many=True), **error_responses(400, 404)},
        description="Who liked this post, most recent first.",
    )
)
class PostLikesView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = LikeItemSerializer

    def get_queryset(self) -> QuerySet[Like]:
        post = selectors.post_by_id(self.kwargs["post_id"], viewer=viewer_of(self.request))
        return selectors.likes_for_post(post)


class RepostResultSerializer(serializers.Serializer):
    post_id = serializers.CharField()
    reposted = serializers.BooleanField()
    reposts_count = serializers.IntegerField()


class RepostView(APIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    # A repost publishes to one's followers as a post does: it counts as one (as on Mastodon).
    throttle_classes = throttles_with(PostingRateThrottle)

    @extend_schema(
        operation_id="posts_repost",
        request=None,
        responses={
            201: RepostResultSerializer,
            200: RepostResultSerializer,
            **error_responses(401, 403, 404),
        },
        description="Pass this post on to your followers: 201 when new, 200 when you had "
        "already reposted it. Its author is told (`repost`). 403 `not_repostable` unless it "
        "is a `public` or `unlisted` post of a public account; 403 `blocking` on the post "
        "of someone you block; the post of someone who blocks you is a 404.",
    )
    def post(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        result = services.repost_create(user=user, post=post)
        return Response(
            {"post_id": str(post.pk), "reposted": True, "reposts_count": result.reposts_count},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="posts_unrepost",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Take back your repost. 204 also when you had not reposted it, or after "
        "the post went out of your sight if you had; 404 for a post you may not see and had "
        "not reposted.",
    )
    def delete(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_to_unrepost(post_id, viewer=user)
        services.repost_delete(user=user, post=post)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepostItemSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    reposted_at = serializers.DateTimeField(source="created_at")


@extend_schema_view(
    get=extend_schema(
        operation_id="posts_reposted_by_list",
        responses={200: RepostItemSerializer(many=True), **error_responses(400, 404)},
        description="Who reposted this post, most recent first, less the accounts you mute "
        "or block and those who block you.",
    )
)
class PostRepostsView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = RepostItemSerializer

    def get_queryset(self) -> QuerySet[Repost]:
        viewer = viewer_of(self.request)
        post = selectors.post_by_id(self.kwargs["post_id"], viewer=viewer)
        return selectors.reposts_for_post(post, viewer=viewer)


class BookmarkResultSerializer(serializers.Serializer):
    post_id = serializers.CharField()
    bookmarked = serializers.BooleanField()


class BookmarkView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="posts_bookmark",
        request=None,
        responses={
            201: BookmarkResultSerializer,
            200: BookmarkResultSerializer,
            **error_responses(401, 404),
        },
        description="Keep this post to read again (only you see your bookmarks): 201 when "
        "new, 200 when you had already kept it.",
    )
    def post(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        created = services.bookmark_create(user=user, post=post)
        return Response(
            {"post_id": str(post.pk), "bookmarked": True},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="posts_unbookmark",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Remove your bookmark. 204 also when you had none, or after the post "
        "went out of your sight if you had one; 404 for a post you may not see and had not "
        "kept.",
    )
    def delete(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_to_unbookmark(post_id, viewer=user)
        services.bookmark_delete(user=user, post=post)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        operation_id="me_bookmarks_list",
        responses={200: PostSerializer(many=True), **error_responses(400, 401)},
        description="The posts you bookmarked, most recently kept first, less those you may "
        "no longer see (a private account you stopped following, a block) or whose author "
        "you mute.",
    )
)
class BookmarkListView(PostPageMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[Bookmark]:
        return selectors.bookmarks_of(signed_in_user(self.request))

    def load_page(self, page: list[Any]) -> list[Post]:
        return [bookmark.post for bookmark in page]


class PostVersionSerializer(serializers.Serializer):
    title = serializers.CharField()
    content = serializers.CharField()
    spoiler_text = serializers.CharField()
    sensitive = serializers.BooleanField()
    entities = serializers.SerializerMethodField()
    media_attachments = MediaAttachmentSerializer(many=True)
    created_at = serializers.DateTimeField(help_text="When this version was written.")

    @extend_schema_field(ENTITIES_SCHEMA)
    def get_entities(self, version: Any) -> list[dict[str, Any]]:
        return version.entities


@extend_schema_view(
    get=extend_schema(
        operation_id="posts_history_list",
        responses={200: PostVersionSerializer(many=True), **error_responses(400, 404)},
        description="The post's versions, oldest (the original) first, the last one as it "
        "stands; empty until it is first edited.",
    )
)
class PostHistoryView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = PostVersionSerializer
    pagination_class = OldestFirstPagination

    def get_queryset(self) -> QuerySet[PostEdit]:
        post = selectors.post_by_id(self.kwargs["post_id"], viewer=viewer_of(self.request))
        return selectors.post_history(post)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(post_versions_data(page, request=request))


class PinResultSerializer(serializers.Serializer):
    post_id = serializers.CharField()
    pinned = serializers.BooleanField()


class PinView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="posts_pin",
        request=None,
        responses={
            201: PinResultSerializer,
            200: PinResultSerializer,
            **error_responses(400, 401, 403, 404),
        },
        description="Pin your post to the top of your profile: 201 when new, 200 when it "
        "already was. 403 `permission_denied` for someone else's post, 400 `too_many_pins` past "
        f"{PINS_PER_ACCOUNT}.",
    )
    def post(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        created = services.pin_create(user=user, post=post)
        return Response(
            {"post_id": str(post.pk), "pinned": True},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="posts_unpin",
        request=None,
        responses={204: None, **error_responses(401, 404)},
        description="Unpin your post: 204, also when it was not pinned.",
    )
    def delete(self, request: Request, post_id: int) -> Response:
        user = signed_in_user(request)
        post = selectors.post_by_id(post_id, viewer=user)
        services.pin_delete(user=user, post=post)
        return Response(status=status.HTTP_204_NO_CONTENT)
