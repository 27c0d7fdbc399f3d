"""``POST /api/v1/realtime/tickets``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from suite.realtime.tickets import Ticket, read_ticket
from tests.conftest import assert_error
from tests.suite.realtime.conftest import TICKETS_URL

pytestmark = pytest.mark.django_db


def _assert_ticket_response(response, user, *, path="/ws/events/"):
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"ticket", "expires_at"}
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    remaining = (expires_at - timezone.now()).total_seconds()
    assert 58 <= remaining <= 60  # REALTIME_TICKET_TTL = 60 s by default
    ticket = read_ticket(body["ticket"], path=path)
    assert isinstance(ticket, Ticket), ticket
    assert ticket.user_id == str(user.pk)
    assert ticket.expires_at == expires_at
    return ticket


def test_create_ticket_with_empty_json_object(api, user):
    ticket = _assert_ticket_response(api(user).post(TICKETS_URL, json={}), user)
    assert ticket.path is None
    assert ticket.scopes is None


def test_create_ticket_without_body(client, user, token_for):
    """What ``fetch(url, {method: "POST"})`` or ``curl -X POST`` send: no body at all."""
    response = client.generic(
        "POST", TICKETS_URL, b"", headers={"Authorization": f"Bearer {token_for(user)}"}
    )
    _assert_ticket_response(response, user)


def test_create_ticket_with_json_null_body(api, client, user, token_for):
    response = client.post(
        TICKETS_URL, "null", content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )
    _assert_ticket_response(response, user)


def test_create_ticket_with_session(client, user):
    client.force_login(user, backend="suite.identity.backends.LocalPasswordBackend")
    _assert_ticket_response(client.post(TICKETS_URL, {}, content_type="application/json"), user)


@pytest.mark.parametrize("path", ["/ws/docs/3f2b7c1e-0000-4000-8000-000000000001", "/ws/docs/3f2b7c1e-0000-4000-8000-000000000001/"])
def test_create_ticket_scoped_to_path_ignores_trailing_slash(api, user, path):
    response = api(user).post(TICKETS_URL, json={"path": path})
    ticket = _assert_ticket_response(response, user, path="/ws/docs/3f2b7c1e-0000-4000-8000-000000000001")
    assert ticket.path == "/ws/docs/3f2b7c1e-0000-4000-8000-000000000001"
    document = "/ws/docs/3f2b7c1e-0000-4000-8000-000000000001"
    assert isinstance(read_ticket(response.json()["ticket"], path=document + "/"), Ticket)
    assert read_ticket(response.json()["ticket"], path="/ws/events/") == "ticket_wrong_path"


def test_create_ticket_keeps_the_scopes_of_the_token(api, user):
    response = api(user, ["realtime", "docs:read"]).post(TICKETS_URL, json={})
    ticket = _assert_ticket_response(response, user)
    assert sorted(ticket.scopes) == ["docs:read", "realtime"]


def test_create_ticket_unauthenticated(client):
    response = client.post(TICKETS_URL, {}, content_type="application/json")
    assert_error(response, 401, "not_authenticated")


def test_create_ticket_with_revoked_token(client, user):
    from suite.identity.tokens import token_create, token_revoke

    token, raw = token_create(actor=None, user=user, name="t", scopes=[], expires_in_days=None)
    token_revoke(actor=None, token_id=token.pk)
    response = client.post(
        TICKETS_URL, {}, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )
    assert_error(response, 401, "not_authenticated")


def test_create_ticket_token_without_realtime_scope(api, user):
    error = assert_error(api(user, ["docs"]).post(TICKETS_URL, json={}), 403, "insufficient_scope")
    assert error["details"]["required"] == "realtime"


def test_create_ticket_read_only_realtime_scope(api, user):
    assert_error(api(user, ["realtime:read"]).post(TICKETS_URL, json={}), 403, "insufficient_scope")


def test_create_ticket_realtime_scope(api, user):
    _assert_ticket_response(api(user, ["realtime"]).post(TICKETS_URL, json={}), user)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/me",  # not a websocket path
        "ws/docs/1",  # relative
        "/ws/docs/../events/",  # dot segment
        "/ws//docs",  # empty segment
        "/ws/docs/1?ticket=x",  # query
        "/ws/docs/1#x",
        "/ws/docs/a b",
        "/ws/docs/\u00e9",
        "/ws/docs/" + "a" * 600,  # too long
        "",
    ],
)
def test_create_ticket_bad_path(api, user, path):
    error = assert_error(api(user).post(TICKETS_URL, json={"path": path}), 422, "validation_error")
    assert [e["field"] for e in error["details"]["errors"]] == ["path"]


@pytest.mark.parametrize(
    "body",
    ['{"path": 5}', "[1]", '"ticket"', '{"pth": "/ws/docs/1"}'],
    ids=["path-not-a-string", "list", "string", "unknown-field"],
)
def test_create_ticket_malformed_body(client, user, token_for, body):
    response = client.post(
        TICKETS_URL, body, content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )
    assert_error(response, 422, "validation_error")


def test_create_ticket_invalid_json(client, user, token_for):
    response = client.post(
        TICKETS_URL, "{not json", content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )
    assert_error(response, 400, "bad_request")


def test_create_ticket_unauthenticated_with_csrf_checks_enforced():
    """Real clients are CSRF-checked (the test client is not by default): an anonymous
    POST without any cookie is a 401, not a CSRF failure."""
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(TICKETS_URL, {}, content_type="application/json")
    assert_error(response, 401, "not_authenticated")


def test_create_ticket_with_session_but_without_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="suite.identity.backends.LocalPasswordBackend")
    response = client.post(TICKETS_URL, {}, content_type="application/json")
    assert_error(response, 403, "csrf_failed")


def test_create_ticket_with_session_and_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="suite.identity.backends.LocalPasswordBackend")
    secret = "k" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(TICKETS_URL, {}, content_type="application/json", headers={"X-CSRFToken": secret})
    _assert_ticket_response(response, user)
