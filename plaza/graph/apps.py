from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "plaza.graph"
    label = "graph"
