from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "suite.realtime"
    label = "realtime"
    verbose_name = "Realtime"
