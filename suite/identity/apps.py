from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "suite.identity"
    label = "identity"
    verbose_name = "Identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from suite.identity import oidc, signals  # noqa: F401  (connect signal receivers)

        oidc.apply_discovery()
