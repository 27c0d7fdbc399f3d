"""End to end through the real server: ``suite serve`` (uvicorn) in a subprocess, an API
token from ``suite token create``, a ticket over HTTP, and a real websocket client
(``websockets``); fan-out from this process reaches the server's socket through Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
import redis
import requests
from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer
from psycopg import sql
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from suite.access.events import LinkChanged
from suite.realtime.consumers import user_group

E2E_DATABASE = "communs_realtime_e2e"
E2E_REDIS_DB = 11
SUITE = str(Path(sys.executable).parent / "suite")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _e2e_database_url() -> str:
    """A database of its own (``suite serve`` migrates it), created when missing."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [E2E_DATABASE]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(E2E_DATABASE)))
    return urlunsplit(parts._replace(path=f"/{E2E_DATABASE}"))


def _e2e_redis_url() -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


@pytest.fixture(scope="module")
def server(s3_engine, tmp_path_factory):
    """A real ``suite serve`` on a free port; yields its base URL, env and key prefix."""
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("suite-e2e")
    redis_url = _e2e_redis_url()
    redis.Redis.from_url(redis_url).flushdb()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=_e2e_database_url(),
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=f"communs-e2e-{uuid.uuid4().hex[:8]}",
        S3_ENDPOINT_URL=s3_engine["S3_ENDPOINT_URL"],
        S3_ACCESS_KEY_ID=s3_engine["S3_ACCESS_KEY_ID"],
        S3_SECRET_ACCESS_KEY=s3_engine["S3_SECRET_ACCESS_KEY"],
        S3_BUCKET=s3_engine["S3_BUCKET"],
        SUITE_DATA_DIR=str(data_dir),
        SUITE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        # The platform alone: what is under test here is its realtime layer.
        SUITE_APPS="",
        LOG_LEVEL="warning",
    )
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [SUITE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # the first run migrates a fresh database
        while True:
            if process.poll() is not None:
                pytest.fail(f"suite serve exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"suite serve did not answer in time:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield {"base": base, "ws": f"ws://127.0.0.1:{port}", "env": env, "log": log_path}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        redis.Redis.from_url(redis_url).flushdb()


def _suite(server, *args: str) -> str:
    result = subprocess.run(
        [SUITE, *args], env=server["env"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


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
