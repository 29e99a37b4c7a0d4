from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "plaza.realtime"
    label = "realtime"
