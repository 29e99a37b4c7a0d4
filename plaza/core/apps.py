from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "plaza.core"
    label = "core"
