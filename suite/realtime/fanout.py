"""Sending platform events to connected websockets, through the channel layer (Redis when
``REDIS_URL`` is set, so any server process reaches any client; in-memory in zero-config,
where there is a single process).

Delivery is best-effort and at-most-once, like any websocket push: a client that was not
connected reads the current state when it reconnects. So an unreachable Redis is logged,
never raised into a service whose transaction has already committed. Call the sync
functions from sync code (services, ``on_commit`` callbacks, tasks) and the ``a``-prefixed
ones from consumers and other async code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from suite.events import PlatformEvent
from suite.realtime.consumers import user_group

logger = logging.getLogger(__name__)


def notify_user(user_id: object, event: PlatformEvent) -> None:
    """Push ``event`` to every ``/ws/events/`` socket of one user."""
    send_to_group(user_group(user_id), event.envelope())


def notify_users(user_ids: Iterable[object], event: PlatformEvent) -> None:
    async_to_sync(anotify_users)(user_ids, event)


def send_to_group(group: str, envelope: dict[str, Any]) -> None:
    async_to_sync(asend_to_group)(group, envelope)


async def anotify_user(user_id: object, event: PlatformEvent) -> None:
    await asend_to_group(user_group(user_id), event.envelope())


async def anotify_users(user_ids: Iterable[object], event: PlatformEvent) -> None:
    envelope = event.envelope()
    for user_id in dict.fromkeys(user_ids):  # once per user, in order
        await asend_to_group(user_group(user_id), envelope)


async def asend_to_group(group: str, envelope: dict[str, Any]) -> None:
    """Send ``envelope`` to the consumers of ``group``: they receive it in their
    ``platform_event`` handler (message type ``platform.event``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": "platform.event", "envelope": envelope})
    except (OSError, RedisError):
        logger.exception("realtime fan-out failed", extra={"group": group})
