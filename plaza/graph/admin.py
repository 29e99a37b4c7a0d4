from django.contrib import admin

from plaza.graph.models import Block, Follow, FollowRequest, Mute


class ReadOnlyPairAdmin(admin.ModelAdmin):
    """Relations between two accounts are shown, never edited here: they change through the
    API's services, which keep counters, notifications and timelines right with them."""

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Follow)
class FollowAdmin(ReadOnlyPairAdmin):
    list_display = ["id", "follower", "followee", "created_at"]
    search_fields = ["follower__username", "followee__username"]
    list_select_related = ["follower", "followee"]


@admin.register(FollowRequest)
class FollowRequestAdmin(ReadOnlyPairAdmin):
    list_display = ["id", "requester", "target", "created_at"]
    search_fields = ["requester__username", "target__username"]
    list_select_related = ["requester", "target"]


@admin.register(Block)
class BlockAdmin(ReadOnlyPairAdmin):
    list_display = ["id", "blocker", "blocked", "created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]


@admin.register(Mute)
class MuteAdmin(ReadOnlyPairAdmin):
    list_display = ["id", "muter", "muted", "created_at"]
    search_fields = ["muter__username", "muted__username"]
    list_select_related = ["muter", "muted"]
