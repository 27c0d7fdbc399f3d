from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Websockets and platform events."""

    name = "suite.realtime"
    label = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Event classes register themselves when their module is imported. Importing every
        # installed app's ``events`` module here means any process (a Celery worker too) can
        # rebuild any event an enabled app publishes, whatever that process imported so far.
        autodiscover_modules("events")
