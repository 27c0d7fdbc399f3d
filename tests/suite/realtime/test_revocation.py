"""A socket lives no longer than the credential it was opened with: token revoked or
expired, logout, back-channel logout, password change, deactivation close it within a
second (4401 and the reason), and tickets minted with an ended credential stop working.
Real ASGI application, real PostgreSQL and Redis channel layer, committed data."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from suite.identity.credentials import (
    Credential,
    CredentialKind,
    Ended,
    ended_credentials,
    remember_oidc_logout,
)
from suite.identity.models import ApiToken, UserSession
from suite.identity.oidc import end_provider_sessions
from suite.identity.tokens import token_create, token_revoke
from tests.factories import UserFactory
from tests.suite.realtime.conftest import (
    TICKETS_URL,
    WebsocketCommunicator,
    cookie_header,
    expect_close,
    expect_ready,
    run_async,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL_BACKEND = "suite.identity.backends.LocalPasswordBackend"


async def _open(path: str, headers=()) -> WebsocketCommunicator:
    from suite.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    assert await communicator.connect()
    return communicator


async def _open_ready(path: str, headers=()) -> WebsocketCommunicator:
    communicator = await _open(path, headers)
    await expect_ready(communicator)
    return communicator


async def _closed_within_a_second(communicator) -> tuple[int, str]:
    started = time.monotonic()
    closed = await expect_close(communicator)
    assert time.monotonic() - started < 1.0
    return closed


def _token_ticket(raw: str) -> str:
    response = Client().post(TICKETS_URL, data={}, content_type="application/json",
                             headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def _session_ticket(client: Client) -> str:
    response = client.post(TICKETS_URL, data={}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def _events(ticket: str) -> str:
    return f"/ws/events/?ticket={quote(ticket)}"


def _signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user, backend=LOCAL_BACKEND)
    return client


@run_async
async def test_revoking_a_token_closes_its_sockets_and_spares_the_others():
    user = await database_sync_to_async(UserFactory)()
    token, raw = await database_sync_to_async(token_create)(actor=None, user=user, name="a")
    _, other_raw = await database_sync_to_async(token_create)(actor=None, user=user, name="b")
    doomed = await _open_ready(_events(await database_sync_to_async(_token_ticket)(raw)))
    kept = await _open_ready(_events(await database_sync_to_async(_token_ticket)(other_raw)))
    spare = await database_sync_to_async(_token_ticket)(raw)

    await database_sync_to_async(token_revoke)(actor=user, token_id=token.pk)

    assert await _closed_within_a_second(doomed) == (4401, "token_revoked")
    await kept.send_to("ping")
    assert await kept.receive_from() == "pong"
    refused = await _open(_events(spare))
    assert await expect_close(refused) == (4401, "token_revoked")
    await kept.disconnect()


@run_async
async def test_logout_closes_the_session_sockets_and_invalidates_its_tickets():
    user = await database_sync_to_async(UserFactory)()
    client = await database_sync_to_async(_signed_in)(user)
    other_session = await database_sync_to_async(_signed_in)(user)
    by_cookie = await _open_ready("/ws/events/", [cookie_header(client)])
    ticket = await database_sync_to_async(_session_ticket)(client)
    by_ticket = await _open_ready(_events(ticket))
    elsewhere = await _open_ready("/ws/events/", [cookie_header(other_session)])

    await database_sync_to_async(client.logout)()

    assert await _closed_within_a_second(by_cookie) == (4401, "session_ended")
    assert await _closed_within_a_second(by_ticket) == (4401, "session_ended")
    refused = await _open(_events(ticket))
    assert await expect_close(refused) == (4401, "session_ended")
    await elsewhere.send_to("ping")
    assert await elsewhere.receive_from() == "pong", "another session of the user stays"
    await elsewhere.disconnect()


@run_async
async def test_password_change_closes_the_other_sessions():
    user = await database_sync_to_async(UserFactory)()
    client = await database_sync_to_async(_signed_in)(user)
    socket = await _open_ready("/ws/events/", [cookie_header(client)])

    def change_password():
        user.set_password("a new password of some length")
        user.save()

    await database_sync_to_async(change_password)()
    assert await _closed_within_a_second(socket) == (4401, "session_ended")


@run_async
async def test_deactivation_closes_every_socket_of_the_account():
    user = await database_sync_to_async(UserFactory)()
    _, raw = await database_sync_to_async(token_create)(actor=None, user=user, name="a")
    client = await database_sync_to_async(_signed_in)(user)
    by_token = await _open_ready(_events(await database_sync_to_async(_token_ticket)(raw)))
    by_cookie = await _open_ready("/ws/events/", [cookie_header(client)])

    def deactivate():
        user.is_active = False
        user.save(update_fields=["is_active"])

    await database_sync_to_async(deactivate)()
    assert await _closed_within_a_second(by_token) == (4401, "user_inactive")
    assert await _closed_within_a_second(by_cookie) == (4401, "user_inactive")


@run_async
async def test_backchannel_logout_closes_the_sockets_of_the_provider_session():
    user = await database_sync_to_async(UserFactory)(sub="alice-sub")
    client = await database_sync_to_async(_signed_in)(user)
    await database_sync_to_async(
        lambda: UserSession.objects.filter(session_key=client.session.session_key).update(oidc_sid="sid-1")
    )()
    socket = await _open_ready("/ws/events/", [cookie_header(client)])

    await database_sync_to_async(end_provider_sessions)(sid="sid-1", sub=None)

    assert await _closed_within_a_second(socket) == (4401, "session_ended")


@run_async
async def test_a_token_expiring_closes_its_sockets_when_it_expires():
    user = await database_sync_to_async(UserFactory)()
    token, raw = await database_sync_to_async(token_create)(actor=None, user=user, name="a")
    ticket = await database_sync_to_async(_token_ticket)(raw)
    await database_sync_to_async(
        lambda: ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=1.5))
    )()
    socket = await _open_ready(_events(ticket))
    assert await socket.receive_nothing(1.0), "open before the expiry"
    assert await expect_close(socket) == (4401, "token_expired")


@run_async
async def test_a_lost_notice_is_caught_by_the_periodic_check(settings):
    settings.REALTIME_CREDENTIAL_RECHECK_SECONDS = 1
    user = await database_sync_to_async(UserFactory)()
    token, raw = await database_sync_to_async(token_create)(actor=None, user=user, name="a")
    socket = await _open_ready(_events(await database_sync_to_async(_token_ticket)(raw)))
    # Revoked behind the services' back: no notice is sent.
    await database_sync_to_async(
        lambda: ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    )()
    message = await socket.receive_output(timeout=3)
    assert (message["type"], message.get("code"), message.get("reason")) == (
        "websocket.close", 4401, "token_revoked"
    )


def test_oidc_bearer_credentials_end_with_their_session_or_user(db):
    user = UserFactory()
    now = time.time()
    of_sid = Credential(CredentialKind.OIDC, "sid-9", str(user.pk), issued_at=now - 10, expires_at=now + 300)
    other = Credential(CredentialKind.OIDC, "sid-10", str(user.pk), issued_at=now - 10, expires_at=now + 300)
    expired = Credential(CredentialKind.OIDC, "", str(user.pk), issued_at=now - 600, expires_at=now - 1)
    assert ended_credentials([of_sid, other, expired]) == {expired: Ended.CREDENTIAL_EXPIRED}
    no_sid = Credential(CredentialKind.OIDC, "", str(user.pk), issued_at=now - 10, expires_at=now + 300)
    remember_oidc_logout(sid="sid-9", user_ids=[user.pk])
    # A token naming no session cannot be told apart from the one logged out: it ends too.
    assert ended_credentials([of_sid, other, no_sid]) == {of_sid: Ended.OIDC_LOGOUT, no_sid: Ended.OIDC_LOGOUT}
    remember_oidc_logout(sid=None, user_ids=[user.pk])
    later = Credential(CredentialKind.OIDC, "", str(user.pk), issued_at=time.time() + 5, expires_at=now + 300)
    assert ended_credentials([other, later]) == {other: Ended.OIDC_LOGOUT}
