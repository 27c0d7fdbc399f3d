"""Base consumer for authenticated websockets, and the platform's own event stream.

Close codes (4000-4999 are for applications, RFC 6455 §7.4.2):
4401 not authenticated (reason in the close frame: ticket_expired, ticket_invalid, ...),
4403 forbidden, 4404 not found, 4400 malformed message, 4413 message too large.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from suite.observability import WEBSOCKET_CONNECTIONS

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_MALFORMED = 4400
CLOSE_TOO_LARGE = 4413


def user_group(user_id: object) -> str:
    return f"user.{user_id}"


class AuthenticatedConsumer(AsyncWebsocketConsumer):
    """Refuses anonymous connections: accepts, then closes with 4401 and the reason, so the
    client can tell an expired ticket from a network error."""

    endpoint = "base"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            WEBSOCKET_CONNECTIONS.labels(self.endpoint, "unauthenticated").inc()
            await self.accept()
            await self.close(
                code=CLOSE_NOT_AUTHENTICATED, reason=self.scope.get("auth_error", "not_authenticated")
            )
            return
        await self.authenticated_connect(user)

    async def authenticated_connect(self, user: Any) -> None:
        WEBSOCKET_CONNECTIONS.labels(self.endpoint, "accepted").inc()
        await self.accept()


class EventStreamConsumer(AuthenticatedConsumer):
    """``/ws/events/``: platform events addressed to the signed-in user, as JSON envelopes
    ``{"type": "...", "data": {...}}``. The first message identifies the session."""

    endpoint = "events"

    async def authenticated_connect(self, user: Any) -> None:
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await super().authenticated_connect(user)
        await self.send(
            text_data=json.dumps(
                {
                    "type": "session.ready",
                    "data": {"user_id": str(user.pk), "auth_method": self.scope.get("auth_method")},
                }
            )
        )

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "ping":
            await self.send(text_data="pong")

    async def platform_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message["envelope"]))
