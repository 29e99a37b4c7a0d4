from django.contrib import admin

from plaza.graph.models import Follow


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    """Read-only: follows change through the API, which keeps counters and notifications."""

    list_display = ["id", "follower", "followee", "created_at"]
    search_fields = ["follower__username", "followee__username"]
    list_select_related = ["follower", "followee"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
