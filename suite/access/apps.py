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
        from suite import events
        from suite.access import epoch

        events.subscribe("identity.credentials_changed", epoch.after_credentials_changed)
        # A team's members hold the roles granted to the team.
        from django.db.models.signals import post_delete, post_save

        for signal in (post_save, post_delete):
            signal.connect(
                epoch.after_membership_change, sender="identity.TeamMembership",
                dispatch_uid=f"access.epoch.membership.{signal is post_save}",
            )
