from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "plaza.messaging"
    label = "messaging"
