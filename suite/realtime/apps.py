from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Websockets: authentication, the platform event stream and channel-layer fan-out.

    (Event modules, ``<app>/events.py``, are imported at startup by ``AccessConfig.ready``.)
    """

    name = "suite.realtime"
    label = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from suite.realtime import revocation

        revocation.subscribe()
