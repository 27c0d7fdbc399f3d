"""HTTP routes: API, OIDC, health, metrics, and each enabled app's ``url_patterns()``
(protocol endpoints that are not JSON APIs, such as WOPI)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path

from suite import health
from suite.api import build_api
from suite.identity import views as identity_views

api = build_api()

urlpatterns = [
    path("api/v1/", api.urls),
    path("oidc/backchannel-logout/", identity_views.backchannel_logout, name="oidc_backchannel_logout"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("auth/login/", identity_views.password_login, name="password_login"),
    path("auth/logout/", identity_views.logout, name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]


def _app_urlpatterns() -> list[Any]:
    from django.apps import apps
    from django.conf import settings

    patterns: list[Any] = []
    for module in settings.PRODUCT_MODULES:
        config = apps.get_app_config(module.rsplit(".", 1)[-1])
        patterns += getattr(config, "url_patterns", lambda: [])()
    return patterns


urlpatterns += _app_urlpatterns()

handler400 = "suite.errors.handler400"
handler403 = "suite.errors.handler403"
handler404 = "suite.errors.handler404"
handler500 = "suite.errors.handler500"
