from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AccessConfig(AppConfig):
    name = "suite.access"
    label = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        # Register every app's platform event types (``<app>.events`` modules) in each
        # process, so a Celery worker can rebuild any event it is handed by name.
        autodiscover_modules("events")
