"""No cache stores a response unless the code that made it says it may."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/teams/", "/api/v1/tokens/"])
def test_personal_api_responses_are_not_stored(api, user, path):
    response = api(user).get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_session_responses_and_created_tokens_are_not_stored(client, user):
    client.force_login(user)
    assert client.get("/api/v1/users/me")["Cache-Control"] == "private, no-store"
    created = client.post("/api/v1/tokens/", {"name": "ci"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["token"]
    assert created["Cache-Control"] == "private, no-store"


def test_errors_and_login_are_not_stored(client):
    assert client.get("/api/v1/users/me")["Cache-Control"] == "private, no-store"  # 401
    assert client.get("/api/v1/no-such-route")["Cache-Control"] == "private, no-store"  # 404
    UserFactory(email="login@example.gouv.fr")
    login = client.post("/auth/login/", {"email": "login@example.gouv.fr", "password": "password"},
                        content_type="application/json")
    assert login.status_code == 200 and login.cookies
    assert "no-store" in login["Cache-Control"]


def test_responses_that_choose_their_caching_keep_it(client, user):
    static = client.get("/static/ninja/swagger-ui.css")
    assert static.status_code == 200
    assert "public" in static["Cache-Control"] and "no-store" not in static["Cache-Control"]
