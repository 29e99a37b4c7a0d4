from django.contrib import admin

from plaza.graph.models import Block, Follow, Mute


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


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Read-only: blocks change through the API, which removes follows with their counters."""

    list_display = ["id", "blocker", "blocked", "created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Mute)
class MuteAdmin(admin.ModelAdmin):
    """Read-only: mutes change through the API, which keeps `muting_count` and timelines."""

    list_display = ["id", "muter", "muted", "created_at"]
    search_fields = ["muter__username", "muted__username"]
    list_select_related = ["muter", "muted"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
