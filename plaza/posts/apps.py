from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "plaza.posts"
    label = "posts"
