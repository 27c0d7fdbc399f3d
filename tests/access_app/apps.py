from django.apps import AppConfig


class AccessAppConfig(AppConfig):
    name = "tests.access_app"
    label = "access_app"
