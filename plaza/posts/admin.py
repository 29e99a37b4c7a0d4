"""Moderation of posts and comments: read and delete. Posts and comments are written through
the API, and deletions go through the services, so counters, notifications and timelines
stay right."""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from plaza.posts import services
from plaza.posts.models import Comment, Post


class ReadAndDeleteAdmin(admin.ModelAdmin):
    """Moderators read and delete; every deletion goes through `delete_through` (a service)."""

    show_full_result_count = False

    def delete_through(self, obj: Any) -> None:
        raise NotImplementedError

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.delete_through(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_through(obj)


@admin.register(Post)
class PostAdmin(ReadAndDeleteAdmin):
    list_display = ["id", "__str__", "author", "created_at", "likes_count", "comments_count"]
    search_fields = ["title", "content", "spoiler_text", "author__username"]
    readonly_fields = ["id", "author", "created_at", "likes_count", "comments_count"]
    list_select_related = ["author"]

    def delete_through(self, post: Post) -> None:
        services.post_delete(post=post)


@admin.register(Comment)
class CommentAdmin(ReadAndDeleteAdmin):
    list_display = ["id", "author", "post", "created_at"]
    search_fields = ["content", "author__username"]
    readonly_fields = ["id", "author", "post", "created_at"]
    list_select_related = ["author", "post"]

    def delete_through(self, comment: Comment) -> None:
        services.comment_delete(comment=comment)
