from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The operators' face: management commands that act across the domain packages (demo
    data, counter repair, the benchmark network), above them as the REST face is."""

    name = "plaza.operations"
    label = "operations"
