from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    name = "plaza.core"
    label = "core"


class PlazaAdminConfig(admin_apps.AdminConfig):
    """Django's admin, served by Plaza's admin site (rate-limited staff sign-in); named in
    INSTALLED_APPS in place of django.contrib.admin."""

    default = False  # plaza.core's own app is CoreConfig
    default_site = "plaza.core.admin_site.PlazaAdminSite"
