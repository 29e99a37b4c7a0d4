"""The home feed."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated

from plaza.core.pagination import CatchUpPagination
from plaza.feed.selectors import FeedIds, feed_ids, feed_page
from plaza.posts.models import Post
from plaza.rest.common import error_responses, signed_in_user
from plaza.rest.posts import PostPageMixin, PostSerializer


@extend_schema_view(
    get=extend_schema(
        operation_id="feed",
        responses={200: PostSerializer(many=True), **error_responses(400, 401)},
        description="Posts by the accounts you follow and your own, and public posts with a "
        "tag you follow, each once, newest first, less those of accounts you mute or block "
        "or that block you. Pages are cursors: posts published while you read do not shift "
        "them.",
    )
)
class FeedView(PostPageMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    pagination_class = CatchUpPagination

    def get_queryset(self) -> FeedIds:  # type: ignore[override]
        self.feed = feed_ids(signed_in_user(self.request))
        return self.feed

    def load_page(self, page: list[Any]) -> list[Post]:
        return feed_page(self.feed, page)
