"""Moderation of posts and comments. Deletions go through the services, so counters and
notifications stay right."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from plaza.posts import services
from plaza.posts.models import Comment, Post


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "author", "created_at", "likes_count", "comments_count"]
    search_fields = ["title", "content", "author__username"]
    readonly_fields = ["id", "author", "created_at", "likes_count", "comments_count"]
    list_select_related = ["author"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are written through the API, which keeps counters and feeds

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False  # moderation reads and deletes; authors edit through the API

    def delete_model(self, request: HttpRequest, obj: Post) -> None:
        services.post_delete(post=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for post in queryset:
            services.post_delete(post=post)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "author", "post", "created_at"]
    search_fields = ["content", "author__username"]
    readonly_fields = ["id", "author", "post", "created_at"]
    list_select_related = ["author", "post"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # comments are written through the API, which notifies and counts

    def has_change_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        return False  # moderation reads and deletes; authors edit through the API

    def delete_model(self, request: HttpRequest, obj: Comment) -> None:
        services.comment_delete(comment=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        for comment in queryset:
            services.comment_delete(comment=comment)
