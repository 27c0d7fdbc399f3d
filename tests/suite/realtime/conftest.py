"""Helpers for websocket tests: a websocket communicator against the real ASGI application
(real PostgreSQL, real Redis channel layer), driven with ``async_to_sync``.

``channels.testing.WebsocketCommunicator`` cannot be imported without daphne (the package's
``__init__`` imports its live-server helper), so :class:`WebsocketCommunicator` here is the
same thin layer over asgiref's ``ApplicationCommunicator``.

Database: under ``async_to_sync`` called from the test's thread, ``database_sync_to_async``
runs its function back on that thread, hence on the test's connection. Tests either use
``django_db(transaction=True)`` (committed data; the middlewares' connection closing runs
for real, at the price of a table flush per test), or :func:`db_in_test_transaction`
(Channels' own testing approach: the data stays in the test's transaction and
``close_old_connections``, which would end it, is skipped).
"""

from __future__ import annotations

import functools
import json
from urllib.parse import unquote, urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

TICKETS_URL = "/api/v1/realtime/tickets"


class WebsocketCommunicator(ApplicationCommunicator):
    """Plays the client side of the ASGI websocket protocol against an application."""

    def __init__(self, application, path: str, headers=None):
        parsed = urlsplit(path)
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": unquote(parsed.path),
            "raw_path": parsed.path.encode(),
            "query_string": parsed.query.encode(),
            "headers": list(headers or []),
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 3) -> bool:
        """Handshake; True when accepted, False when refused before accepting."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False
        assert response["type"] == "websocket.accept", response
        return True

    async def send_to(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def receive_from(self, timeout: float = 3) -> str:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"]

    async def receive_json_from(self, timeout: float = 3):
        return json.loads(await self.receive_from(timeout))

    async def disconnect(self, code: int = 1000, timeout: float = 3) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def run_async(test):
    """Run an ``async def`` test body with ``async_to_sync`` (no pytest-asyncio needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(test)(*args, **kwargs)

    return wrapper


def cookie_header(client) -> tuple[bytes, bytes]:
    """The ``Cookie`` header of a Django test client that has logged in."""
    from django.conf import settings

    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={value}".encode())


async def open_socket(path: str, headers=(), application=None) -> WebsocketCommunicator:
    """Connect to ``path``; every endpoint accepts (and may then close with a reason)."""
    if application is None:
        from suite.asgi import application
    communicator = WebsocketCommunicator(application, path, headers=headers)
    assert await communicator.connect(), "the handshake was refused"
    return communicator


async def expect_ready(communicator: WebsocketCommunicator) -> dict:
    message = await communicator.receive_json_from()
    assert message["type"] == "session.ready", message
    return message["data"]


async def expect_close(communicator: WebsocketCommunicator) -> tuple[int, str]:
    """The (code, reason) the server closed an accepted socket with."""
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    # The server answers a close frame with websocket.disconnect; then the consumer ends.
    await communicator.send_input({"type": "websocket.disconnect", "code": message.get("code")})
    await communicator.wait(timeout=3)
    return message.get("code"), message.get("reason")


@pytest.fixture
def db_in_test_transaction(db, monkeypatch):
    """Sockets see the test's uncommitted data (see the module docstring)."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


@pytest.fixture
def ticket_for(api):
    """``ticket_for(user, scopes=None, path=None)`` → a ticket obtained through the API."""

    def make(user, scopes=None, path=None):
        body = {} if path is None else {"path": path}
        response = api(user, scopes).post(TICKETS_URL, json=body)
        assert response.status_code == 201, response.content
        return response.json()["ticket"]

    return make
