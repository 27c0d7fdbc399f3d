"""Helpers for websocket tests: Channels' ``WebsocketCommunicator`` against the real ASGI
application (real PostgreSQL, real Redis channel layer), driven with ``async_to_sync``."""

from __future__ import annotations

import functools
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

TICKETS_URL = "/api/v1/realtime/tickets"


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


async def open_socket(path: str, headers=(), application=None) -> tuple[WebsocketCommunicator, bool]:
    if application is None:
        from suite.asgi import application
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _subprotocol = await communicator.connect(timeout=3)
    return communicator, connected


async def expect_ready(communicator: WebsocketCommunicator) -> dict:
    message = json.loads(await communicator.receive_from(timeout=3))
    assert message["type"] == "session.ready", message
    return message["data"]


async def expect_close(communicator: WebsocketCommunicator) -> tuple[int, str]:
    """The (code, reason) the server closed an accepted socket with."""
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    await communicator.wait(timeout=3)
    return message.get("code"), message.get("reason")


@pytest.fixture
def ticket_for(api):
    """``ticket_for(user, scopes=None, path=None)`` → a ticket obtained through the API."""

    def make(user, scopes=None, path=None):
        body = {} if path is None else {"path": path}
        response = api(user, scopes).post(TICKETS_URL, json=body)
        assert response.status_code == 201, response.content
        return response.json()["ticket"]

    return make
