"""Sending platform events to connected websockets, through the channel layer (Redis when
``REDIS_URL`` is set, so any server process reaches any client)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from suite.events import PlatformEvent
from suite.realtime.consumers import user_group


def notify_user(user_id: object, event: PlatformEvent) -> None:
    send_to_group(user_group(user_id), event.envelope())


def send_to_group(group: str, envelope: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(group, {"type": "platform.event", "envelope": envelope})
