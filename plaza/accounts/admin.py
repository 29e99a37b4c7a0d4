from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest

from plaza.accounts import services
from plaza.accounts.models import AuthToken, User
from plaza.graph.models import Block, Follow, FollowRequest, Mute

# Read-only in the admin (plaza.graph.admin), deleted with an account by its service.
ACCOUNT_RELATIONS = (Follow, FollowRequest, Block, Mute)


class UserCreationForm(AdminUserCreationForm):
    """Django's add-user form asks for no email; Plaza needs one (unique, used to sign in)."""

    class Meta:
        model = User
        fields = ("username", "email")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "display_name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_private", "is_staff", "is_superuser"]
    search_fields = ["username", "email", "display_name"]
    ordering = ["-date_joined"]
    # Privacy is shown, not edited: changing it must go through its service, which answers
    # pending follow requests and serializes with follows (plaza.graph.services.privacy_set).
    # Pictures too: set through the API, which checks and re-encodes them (no EXIF, server
    # names), never stored as uploaded.
    readonly_fields = [
        "avatar",
        "header",
        "is_private",
        "followers_count",
        "following_count",
        "posts_count",
        "last_login",
    ]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Profile", {"fields": ["display_name", "bio", "avatar", "header", "is_private"]}),
        ("Counters", {"fields": ["followers_count", "following_count", "posts_count"]}),
    )
    add_form = UserCreationForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ["deactivate"]

    # Deletion goes through the service (as the API's, without the password): others'
    # counters are corrected and the account's files deleted.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.account_erase(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.account_erase(user=user)

    def get_deleted_objects(
        self, objs: Sequence[User] | QuerySet[User], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """What deleting lists, as Django collects it, but needing no permission on the
        relations between accounts, which the admin shows read-only (nobody holds their
        delete permission): the service deletes them as it does when an account deletes
        itself. Posts, comments, tokens and the rest still need their own."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        relations = {str(model._meta.verbose_name) for model in ACCOUNT_RELATIONS}
        return deleted, counts, perms_needed - relations, protected

    @admin.action(description="Deactivate (suspend) selected users")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # Suspension keeps the data (unlike deletion) and refuses their tokens at once.
        queryset.update(is_active=False)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ["hint", "user", "device", "created_at", "last_used_at"]
    search_fields = ["user__username", "hint"]
    raw_id_fields = ["user"]
    readonly_fields = ["hint", "digest", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is only useful to whoever sees it once: the client
