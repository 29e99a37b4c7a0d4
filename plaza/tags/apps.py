from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "plaza.tags"
    label = "tags"
