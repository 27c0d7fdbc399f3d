"""/healthz, /readyz and /metrics, request ids, audit of logins."""

from __future__ import annotations

import pytest

from suite.identity.models import AuditEvent
from tests.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_each_engine(client, s3_settings):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["s3"]["status"] == "ok"


def test_readyz_503_when_an_engine_is_down(client, s3_settings, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["status"] == "error" and body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_rejects_post(client):
    assert_error(client.post("/readyz"), 405, "method_not_allowed")


def test_metrics_are_prometheus_text(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'communs_http_requests_total{method="GET",route="healthz",status="200"}' in text


def test_metrics_token_when_configured(client, settings):
    settings.METRICS_TOKEN = "metrics-secret"
    assert_error(client.get("/metrics"), 401, "not_authenticated")
    assert client.get("/metrics", headers={"Authorization": "Bearer metrics-secret"}).status_code == 200


def test_metrics_off_in_production_without_a_token(client, settings):
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = ""
    assert_error(client.get("/metrics"), 404, "not_found")
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer "}), 404, "not_found")
    settings.METRICS_TOKEN = "metrics-secret"
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "not_authenticated")
    response = client.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})
    assert response.status_code == 200 and b"communs_http_requests_total" in response.content


def test_request_id_is_returned_and_kept_when_sane(client):
    assert len(client.get("/healthz")["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"})["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "evil\nheader"})["X-Request-ID"] != "evil\nheader"


def test_password_login_sets_a_session_and_is_audited(client):
    user = UserFactory(email="login@example.gouv.fr")
    response = client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "password"},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["id"] == str(user.pk)
    assert client.get("/api/v1/users/me").json()["email"] == "login@example.gouv.fr"
    assert AuditEvent.objects.filter(action="login", actor=user).exists()


def test_password_login_wrong_password(client):
    UserFactory(email="login@example.gouv.fr")
    response = client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "nope"},
                           content_type="application/json")
    assert_error(response, 401, "not_authenticated")
    assert AuditEvent.objects.filter(action="login_failed").exists()
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")


def test_password_login_bad_body(client):
    assert_error(client.post("/auth/login/", "garbage", content_type="application/json"), 400, "bad_request")


def test_password_login_disabled(client, settings):
    settings.SUITE_LOCAL_ACCOUNTS = False
    UserFactory(email="login@example.gouv.fr")
    response = client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "password"},
                           content_type="application/json")
    assert_error(response, 404, "not_found")


def test_password_login_rate_limited(client):
    UserFactory(email="login@example.gouv.fr")
    for _ in range(10):
        client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "nope"}, content_type="application/json")
    response = client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "password"},
                           content_type="application/json")
    assert_error(response, 429, "rate_limited")


def test_logout_ends_the_session(client):
    user = UserFactory()
    client.force_login(user)
    assert client.post("/auth/logout/").json()["logged_out"] is True
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")
