"""Websocket authentication against ``suite.asgi.application``: ticket, session cookie,
expired or forged ticket, no credentials, foreign origin, inactive user, token scopes."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
from django.urls import re_path

from suite.realtime.auth import TicketOrSessionAuthMiddleware
from suite.realtime.consumers import AuthenticatedConsumer, CloseCode
from suite.realtime.tickets import issue_ticket
from tests.suite.realtime.conftest import (
    cookie_header,
    expect_close,
    expect_ready,
    open_socket,
    run_async,
)

# Most socket tests keep their data in the test's transaction (fast); the first ticket and
# session tests run on committed data with the middlewares' real connection closing (see
# conftest). Refusals decided before any lookup (expired, forged, misplaced tickets) run
# without a database at all, which also proves they never touch it.
with_db = pytest.mark.usefixtures("db_in_test_transaction")
committed_db = pytest.mark.django_db(transaction=True)

LOCAL_BACKEND = "suite.identity.backends.LocalPasswordBackend"


def _events(ticket: str, path: str = "/ws/events/") -> str:
    return f"{path}?ticket={quote(ticket)}"


# --- tickets --------------------------------------------------------------------------------


@run_async
async def _connect_ready(path, headers=()):
    socket = await open_socket(path, headers)
    data = await expect_ready(socket)
    await socket.send_to("ping")
    assert await socket.receive_from() == "pong"
    await socket.disconnect()
    return data


@run_async
async def _connect_refused(path, headers=()):
    socket = await open_socket(path, headers)
    return await expect_close(socket)


@committed_db
def test_ticket_connects(user, ticket_for):
    data = _connect_ready(_events(ticket_for(user)))
    assert data == {"user_id": str(user.pk), "auth_method": "ticket"}


@pytest.mark.parametrize("path", ["/ws/events", "/ws/events/"])
@with_db
def test_ticket_scoped_to_the_endpoint_works_with_and_without_slash(user, ticket_for, path):
    ticket = ticket_for(user, path="/ws/events")
    assert _connect_ready(_events(ticket, path))["auth_method"] == "ticket"


def test_ticket_scoped_to_another_path_refused():
    ticket, _ = issue_ticket(uuid.uuid4(), credential=f"t:{uuid.uuid4()}", path="/ws/docs/3f2b7c1e-0000-4000-8000-000000000001")
    assert _connect_refused(_events(ticket)) == (4401, "ticket_wrong_path")


def test_expired_ticket_refused(settings):
    settings.REALTIME_TICKET_TTL = 0  # expires the second it is issued
    ticket, _ = issue_ticket(uuid.uuid4(), credential=f"t:{uuid.uuid4()}")
    assert _connect_refused(_events(ticket)) == (4401, "ticket_expired")


def test_tampered_ticket_refused():
    ticket, _ = issue_ticket(uuid.uuid4(), credential=f"t:{uuid.uuid4()}")
    tampered = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    assert _connect_refused(_events(tampered)) == (4401, "ticket_invalid")


def test_empty_ticket_refused():
    assert _connect_refused("/ws/events/?ticket=") == (4401, "ticket_invalid")


def test_no_credentials_refused():
    assert _connect_refused("/ws/events/") == (4401, "not_authenticated")


@with_db
def test_inactive_users_ticket_refused(user, ticket_for):
    ticket = ticket_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _connect_refused(_events(ticket)) == (4401, "user_inactive")


@with_db
def test_deleted_users_ticket_refused(user, ticket_for):
    ticket = ticket_for(user)
    user.delete()
    assert _connect_refused(_events(ticket)) == (4401, "ticket_invalid")


@with_db
def test_ticket_works_from_any_origin(user, ticket_for):
    """Tickets are not ambient credentials: a page elsewhere must fetch one with a token."""
    headers = [(b"origin", b"https://integrator.example"), (b"host", b"127.0.0.1:8000")]
    assert _connect_ready(_events(ticket_for(user)), headers)["auth_method"] == "ticket"


@with_db
def test_bad_ticket_does_not_fall_back_to_the_session(client, user):
    client.force_login(user, backend=LOCAL_BACKEND)
    headers = [cookie_header(client)]
    assert _connect_refused("/ws/events/?ticket=nope", headers) == (4401, "ticket_invalid")


def test_unknown_websocket_path_closes_not_found():
    assert _connect_refused("/ws/nothing-here/") == (4404, "not_found")


# --- session cookie -------------------------------------------------------------------------


@committed_db
def test_session_cookie_without_origin(client, user):
    client.force_login(user, backend=LOCAL_BACKEND)
    data = _connect_ready("/ws/events/", [cookie_header(client)])
    assert data == {"user_id": str(user.pk), "auth_method": "session"}


@with_db
def test_session_cookie_with_same_origin(client, user):
    client.force_login(user, backend=LOCAL_BACKEND)
    headers = [cookie_header(client), (b"host", b"localhost:9000"), (b"origin", b"http://localhost:9000")]
    assert _connect_ready("/ws/events/", headers)["auth_method"] == "session"


@with_db
def test_session_cookie_with_public_url_origin(client, user, settings):
    settings.SUITE_PUBLIC_URL = "https://suite.communs.example"
    client.force_login(user, backend=LOCAL_BACKEND)
    headers = [cookie_header(client), (b"host", b"10.0.0.7:8000"), (b"origin", b"https://suite.communs.example")]
    assert _connect_ready("/ws/events/", headers)["auth_method"] == "session"


@with_db
def test_session_cookie_from_cross_site_origin_refused(client, user):
    client.force_login(user, backend=LOCAL_BACKEND)
    headers = [cookie_header(client), (b"host", b"localhost:9000"), (b"origin", b"https://evil.example")]
    assert _connect_refused("/ws/events/", headers) == (4401, "origin_not_allowed")


@pytest.mark.parametrize("backend", [LOCAL_BACKEND, "suite.identity.oidc.SuiteOIDCBackend"])
@with_db
def test_session_cookie_refused_for_inactive_user(client, user, settings, backend):
    """Whichever backend signed the session in, a deactivated user's open session no longer
    opens sockets (the backends' ``get_user`` refuse them; the middleware checks again)."""
    settings.OIDC_OP_JWKS_ENDPOINT = "https://idp.communs.example/jwks"  # the OIDC backend needs one
    client.force_login(user, backend=backend)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _connect_refused("/ws/events/", [cookie_header(client)]) == (4401, "not_authenticated")


@with_db
def test_logged_out_session_refused(client, user):
    client.force_login(user, backend=LOCAL_BACKEND)
    header = cookie_header(client)
    client.logout()
    assert _connect_refused("/ws/events/", [header]) == (4401, "not_authenticated")


# --- token scopes carried by the ticket -----------------------------------------------------


class _DocsLikeConsumer(AuthenticatedConsumer):
    """Stands for an app consumer of the ``docs`` area, routed like y-websocket expects."""

    endpoint = "test-docs"
    scope_area = "docs"

    async def authenticated_connect(self, user):
        await super().authenticated_connect(user)
        kwargs = self.scope["url_route"]["kwargs"]
        await self.send_json(
            {"document": kwargs["document_id"], "can_write": self.scope_allows(write=True)}
        )

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content))


def _docs_application():
    from channels.routing import URLRouter

    return TicketOrSessionAuthMiddleware(
        URLRouter([re_path(r"^ws/docs/(?P<document_id>[0-9a-f-]+)/?$", _DocsLikeConsumer.as_asgi())])
    )


@run_async
async def _docs_connect(path):
    socket = await open_socket(path, application=_docs_application())
    output = await socket.receive_output(timeout=3)
    if output["type"] == "websocket.close":
        return output["code"], output["reason"]
    await socket.disconnect()
    return json.loads(output["text"])


DOC = "3f2b7c1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("path", [f"/ws/docs/{DOC}", f"/ws/docs/{DOC}/"])
@with_db
def test_app_route_with_and_without_slash_accepts_path_scoped_ticket(user, ticket_for, path):
    ticket = ticket_for(user, path=f"/ws/docs/{DOC}")
    assert _docs_connect(f"{path}?ticket={quote(ticket)}") == {"document": DOC, "can_write": True}


@with_db
def test_ticket_of_read_only_token_cannot_write(user, ticket_for):
    ticket = ticket_for(user, scopes=["realtime", "docs:read"])
    assert _docs_connect(f"/ws/docs/{DOC}?ticket={quote(ticket)}") == {"document": DOC, "can_write": False}


@with_db
def test_ticket_of_token_without_the_area_refused(user, ticket_for):
    ticket = ticket_for(user, scopes=["realtime"])
    result = _docs_connect(f"/ws/docs/{DOC}?ticket={quote(ticket)}")
    assert result == (CloseCode.FORBIDDEN, "insufficient_scope")


@with_db
def test_realtime_scoped_ticket_opens_event_stream(user, ticket_for):
    ticket = ticket_for(user, scopes=["realtime"])
    assert _connect_ready(_events(ticket))["user_id"] == str(user.pk)
