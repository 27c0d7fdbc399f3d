"""HTTP routes: API, OIDC, health, metrics."""

from __future__ import annotations

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

handler400 = "suite.errors.handler400"
handler403 = "suite.errors.handler403"
handler404 = "suite.errors.handler404"
handler500 = "suite.errors.handler500"
