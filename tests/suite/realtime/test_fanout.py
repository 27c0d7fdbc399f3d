"""Fan-out to ``/ws/events/`` sockets through the real Redis channel layer."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from suite.access.events import AccessGranted
from suite.realtime.consumers import user_group
from suite.realtime.fanout import notify_user, notify_users
from tests.suite.realtime.conftest import expect_ready, open_socket, run_async

with_db = pytest.mark.usefixtures("db_in_test_transaction")  # see conftest


def _event(user) -> AccessGranted:
    return AccessGranted(
        actor_id=uuid.uuid4(),
        resource_type="docs_app.document",
        resource_id=str(uuid.uuid4()),
        principal_type="user",
        principal_id=user.pk,
        role="editor",
    )


def test_channel_layer_is_redis():
    """Tests run with REDIS_URL: fan-out goes through Redis, as between server processes."""
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


@pytest.mark.django_db(transaction=True)  # committed data, real connection handling
def test_notify_user_reaches_only_that_users_sockets(user, other_user, ticket_for):
    tickets = [ticket_for(user), ticket_for(user), ticket_for(other_user)]
    event = _event(user)

    @run_async
    async def scenario():
        first, second, others = [await open_socket(f"/ws/events/?ticket={quote(t)}") for t in tickets]
        for socket in (first, second, others):
            await expect_ready(socket)
        # The sync API, as a service's on_commit callback calls it.
        await sync_to_async(notify_user)(user.pk, event)
        assert await first.receive_json_from() == event.envelope()
        assert await second.receive_json_from() == event.envelope()
        assert await others.receive_nothing(timeout=0.3)
        for socket in (first, second, others):
            await socket.disconnect()

    scenario()
    # JSON, as the client sees it: ids and times as strings.
    envelope = event.envelope()
    assert envelope["type"] == "access.granted"
    assert envelope["data"]["principal_id"] == str(user.pk)


@with_db
def test_notify_users_sends_once_per_user(user, other_user, ticket_for):
    tickets = [ticket_for(user), ticket_for(other_user)]
    event = _event(user)

    @run_async
    async def scenario():
        sockets = [await open_socket(f"/ws/events/?ticket={quote(t)}") for t in tickets]
        for socket in sockets:
            await expect_ready(socket)
        await sync_to_async(notify_users)([user.pk, other_user.pk, user.pk], event)
        for socket in sockets:
            assert await socket.receive_json_from() == event.envelope()
            assert await socket.receive_nothing(timeout=0.2)
            await socket.disconnect()

    scenario()


@with_db
def test_disconnected_socket_leaves_the_group(user, ticket_for):
    ticket = ticket_for(user)

    @run_async
    async def scenario():
        socket = await open_socket(f"/ws/events/?ticket={quote(ticket)}")
        await expect_ready(socket)
        await socket.disconnect()
        layer = get_channel_layer()
        inner = layer._get_layer()  # this event loop's connection to Redis
        assert user_group(user.pk) not in inner.groups

    scenario()


@with_db
def test_group_send_from_another_layer_instance_reaches_consumer(user, ticket_for):
    """Two channel layer instances stand for two server processes: they share nothing but
    Redis."""
    ticket = ticket_for(user)
    event = _event(user)

    @run_async
    async def scenario():
        socket = await open_socket(f"/ws/events/?ticket={quote(ticket)}")
        await expect_ready(socket)
        other_process = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        assert other_process is not get_channel_layer()
        try:
            await other_process.group_send(
                user_group(user.pk), {"type": "platform.event", "envelope": event.envelope()}
            )
            assert await socket.receive_json_from() == event.envelope()

            # And back: a channel of the other instance gets what this one sends to its group.
            channel = await other_process.new_channel()
            await other_process.group_add("fanout-test", channel)
            await get_channel_layer().group_send("fanout-test", {"type": "hello", "n": 1})
            received = await asyncio.wait_for(other_process.receive(channel), timeout=3)
            assert received == {"type": "hello", "n": 1}
        finally:
            await other_process.flush()
            await socket.disconnect()

    scenario()
