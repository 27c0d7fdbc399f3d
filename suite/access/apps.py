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
        # A team's members hold the roles granted to the team: one leaving loses them.
        from django.db.models.signals import post_delete

        from suite.access import epoch

        post_delete.connect(
            epoch.after_membership_removed, sender="identity.TeamMembership",
            dispatch_uid="access.epoch.membership_removed",
        )
