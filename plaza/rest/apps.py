from django.apps import AppConfig


class RestConfig(AppConfig):
    name = "plaza.rest"
    label = "rest"

    def ready(self) -> None:
        from plaza.rest import schema  # noqa: F401 - registers the OpenAPI auth extension
