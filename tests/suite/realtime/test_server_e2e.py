"""End to end through the real server: ``suite serve`` (uvicorn) in a subprocess, an API
token from ``suite token create``, a ticket over HTTP, and a real websocket client
(``websockets``); fan-out from this process reaches the server's socket through Redis."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

import pytest
import requests
from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from suite.access.events import LinkChanged
from suite.realtime.consumers import user_group
from tests.servers import SuiteServer, server_env

E2E_DATABASE = "communs_realtime_e2e"
E2E_REDIS_DB = 11


@pytest.fixture(scope="module")
def server(s3_engine, tmp_path_factory):
    """A real ``suite serve`` on a free port; yields its base URL, env and key prefix."""
    data_dir = tmp_path_factory.mktemp("suite-e2e")
    # The platform alone: what is under test here is its realtime layer.
    env = server_env(database=E2E_DATABASE, redis_db=E2E_REDIS_DB, s3=s3_engine,
                     data_dir=data_dir, apps="")
    process = SuiteServer(env, data_dir / "server.log")
    process.flush_redis()
    try:
        process.start()
        yield {"base": process.base, "ws": process.ws, "env": process.env, "log": process.log_path,
               "process": process}
    finally:
        process.stop()
        process.flush_redis()


def _suite(server, *args: str) -> str:
    return server["process"].suite(*args)


@pytest.fixture(scope="module")
def account(server):
    """A user and a ``realtime``-scoped API token made with the ``suite`` command."""
    email = f"rt-{uuid.uuid4().hex[:10]}@communs.example"
    user_id = _suite(server, "user", "create", "--email", email)
    token = _suite(server, "token", "create", "--user", email, "--scope", "realtime")
    return {"user_id": str(uuid.UUID(user_id)), "token": token}


def _ticket(server, token: str, **body) -> str:
    response = requests.post(
        f"{server['base']}/api/v1/realtime/tickets",
        headers={"Authorization": f"Bearer {token}"},
        json=body or None,  # no body at all, as fetch() or curl -X POST send
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


def test_ticket_over_http_opens_event_stream_and_receives_fanout(server, account):
    # given: a ticket restricted to the event stream, obtained with the API token
    ticket = _ticket(server, account["token"], path="/ws/events")
    # when: a real client connects like y-websocket would, without the trailing slash
    with connect(f"{server['ws']}/ws/events?ticket={quote(ticket)}", open_timeout=10) as ws:
        ready = json.loads(ws.recv(timeout=10))
        assert ready == {
            "type": "session.ready",
            "data": {"user_id": account["user_id"], "auth_method": "ticket"},
        }
        ws.send("ping")
        assert ws.recv(timeout=10) == "pong"
        # then: an event sent from another process (this one) arrives through Redis
        event = LinkChanged(resource_type="docs_app.document", resource_id="42",
                            link_reach="public", link_role="reader")
        layer = RedisPubSubChannelLayer(hosts=[server["env"]["REDIS_URL"]],
                                        prefix=server["env"]["REDIS_KEY_PREFIX"])
        async_to_sync(layer.group_send)(
            user_group(account["user_id"]), {"type": "platform.event", "envelope": event.envelope()}
        )
        assert json.loads(ws.recv(timeout=10)) == event.envelope()


def test_real_client_without_credentials_gets_4401(server):
    url = f"{server['ws']}/ws/events/"
    with connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "not_authenticated")


def test_real_client_with_forged_ticket_gets_4401(server, account):
    ticket = _ticket(server, account["token"])
    forged = ticket[:-3] + ("xyz" if not ticket.endswith("xyz") else "abc")
    url = f"{server['ws']}/ws/events/?ticket={quote(forged)}"
    with connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "ticket_invalid")


def test_ticket_endpoint_over_http_refuses_anonymous(server):
    response = requests.post(f"{server['base']}/api/v1/realtime/tickets", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_revoked_by_another_process_closes_its_sockets_and_tickets(server):
    """``suite token revoke`` (another process) ends the server's sockets opened with that
    token, directly or through a ticket, within a second; its tickets stop working."""
    email = f"rt-{uuid.uuid4().hex[:10]}@communs.example"
    _suite(server, "user", "create", "--email", email)
    token = _suite(server, "token", "create", "--user", email, "--scope", "realtime")
    kept = _suite(server, "token", "create", "--user", email, "--scope", "realtime")
    ticket, spare_ticket = _ticket(server, token), _ticket(server, token)
    other = _ticket(server, kept)
    with connect(f"{server['ws']}/ws/events/?ticket={quote(ticket)}", open_timeout=10) as ws, \
            connect(f"{server['ws']}/ws/events/?ticket={quote(other)}", open_timeout=10) as ws_kept:
        json.loads(ws.recv(timeout=10))
        json.loads(ws_kept.recv(timeout=10))
        _suite(server, "token", "revoke", token)
        revoked_at = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert time.monotonic() - revoked_at < 1.0
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token_revoked")
        ws_kept.send("ping")
        assert ws_kept.recv(timeout=10) == "pong"  # another token's socket stays
    url = f"{server['ws']}/ws/events/?ticket={quote(spare_ticket)}"
    with connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token_revoked")
