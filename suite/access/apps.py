from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "suite.access"
    label = "access"
    verbose_name = "Access"
