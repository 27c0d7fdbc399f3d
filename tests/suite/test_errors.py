"""The uniform error shape for every class of error."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error


@pytest.mark.django_db
def test_unauthenticated_api_call_gets_401(client):
    response = client.get("/api/v1/users/me")
    error = assert_error(response, 401, "not_authenticated")
    assert error["details"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_unknown_url_gets_404_in_error_shape(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")


@pytest.mark.django_db
def test_unknown_api_url_gets_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_gets_405_with_allowed_methods(api, user):
    response = api(user).put("/api/v1/users/me", json={})
    error = assert_error(response, 405, "method_not_allowed")
    assert set(error["details"]["allowed_methods"]) == {"GET", "PATCH"}


@pytest.mark.django_db
def test_invalid_body_gets_422_with_field_details(api, user):
    response = api(user).post("/api/v1/teams/", json={"name": 12})
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"][0]["field"] == "payload.name" or error["details"]["errors"][0]["location"][-1] == "name"


@pytest.mark.django_db
def test_malformed_json_gets_uniform_400_or_422(api, user):
    response = api(user).post("/api/v1/teams/", json="{not json", headers={})
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code, "validation_error" if response.status_code == 422 else "bad_request")


@pytest.mark.django_db
def test_unexpected_exception_gets_500_without_trace(api, user, monkeypatch):
    from suite.identity import selectors

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "tokens_of", explode)
    response = api(user).get("/api/v1/tokens/")
    error = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.content.decode()
    assert error["details"] == {}


@pytest.mark.django_db
def test_rate_limited_search_gets_429(api, user, settings):
    settings.USER_SEARCH_RATE = "2/m"
    client = api(user)
    assert client.get("/api/v1/users/?q=agent").status_code == 200
    assert client.get("/api/v1/users/?q=agent").status_code == 200
    response = client.get("/api/v1/users/?q=agent")
    assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "60"


@pytest.mark.django_db
def test_csrf_failure_on_session_write_gets_403(client, user):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post("/api/v1/teams/", data={"name": "x"}, content_type="application/json")
    assert_error(response, 403, "csrf_failed")


@pytest.mark.django_db
def test_error_messages_follow_accept_language(client):
    response = client.get("/api/v1/users/me", headers={"Accept-Language": "fr"})
    error = assert_error(response, 401, "not_authenticated")
    assert error["message"] == "Authentification requise."


@pytest.mark.django_db
def test_nul_characters_are_refused_not_500(api, user):
    """Found by the API fuzzer: NUL reached PostgreSQL and failed with a 500."""
    client = api(user)
    error = assert_error(client.get("/api/v1/users/?q=%00ab"), 400, "bad_request")
    assert error["details"] == {"reason": "nul_character"}
    assert_error(client.post("/api/v1/teams/", json={"name": "a\u0000b"}), 400, "bad_request")


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["offset=703979863389508515827279420675063808", "limit=100000", "limit=0", "offset=-1"])
def test_pagination_bounds_are_validated(api, user, query):
    """Found by the API fuzzer: a huge offset overflowed PostgreSQL's bigint."""
    assert_error(api(user).get(f"/api/v1/teams/?{query}"), 422, "validation_error")
