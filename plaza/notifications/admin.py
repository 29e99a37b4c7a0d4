from django.contrib import admin

from plaza.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "recipient", "actor", "read", "created_at"]
    list_filter = ["kind", "read"]
    search_fields = ["recipient__username", "actor__username"]
    list_select_related = ["recipient", "actor"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
