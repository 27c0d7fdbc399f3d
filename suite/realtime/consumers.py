"""Base consumer for authenticated websockets, and the platform's own event stream.

Close codes (4000-4999 are for applications, RFC 6455 §7.4.2), with a machine reason in the
close frame so a client can tell an expired ticket from a network error:

- 4401 not authenticated: ``not_authenticated``, ``ticket_expired``, ``ticket_invalid``,
  ``ticket_wrong_path``, ``user_inactive``, ``origin_not_allowed``; or, on an open socket
  (or a ticket minted with it), its credential ended: ``token_revoked``, ``token_expired``,
  ``session_ended``, ``oidc_logout``, ``credential_expired``; the client should get a new
  ticket (or sign in) before reconnecting;
- 4403 forbidden (``insufficient_scope``, or an app's own reason); do not retry as is;
- 4404 not found (unknown endpoint, or an object the user may not see: same answer);
- 4400 malformed message, 4413 message too large.

A refused connection is accepted first and then closed: a handshake refused before
``accept`` reaches browsers as a bare 1006 with no code or reason.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from suite.identity import scopes as token_scopes
from suite.identity.credentials import Credential, Ended, ended_credentials
from suite.observability import WEBSOCKET_CONNECTIONS
from suite.realtime import revocation


class CloseCode(enum.IntEnum):
    """Application close codes of every websocket endpoint (HTTP status + 4000)."""

    MALFORMED = 4400
    NOT_AUTHENTICATED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    TOO_LARGE = 4413


CLOSE_MALFORMED = CloseCode.MALFORMED
CLOSE_NOT_AUTHENTICATED = CloseCode.NOT_AUTHENTICATED
CLOSE_FORBIDDEN = CloseCode.FORBIDDEN
CLOSE_NOT_FOUND = CloseCode.NOT_FOUND
CLOSE_TOO_LARGE = CloseCode.TOO_LARGE

INSUFFICIENT_SCOPE = "insufficient_scope"


def user_group(user_id: object) -> str:
    """The channel-layer group of every socket of one user (``/ws/events/``)."""
    return f"user.{user_id}"


class RefusingConsumerMixin:
    """``refuse(code, reason)``: accept, then close with an application code and reason."""

    async def refuse(self, code: int, reason: str) -> None:
        await self.accept()  # type: ignore[attr-defined]
        await self.close(code=int(code), reason=reason)  # type: ignore[attr-defined]


class AuthenticatedConsumer(RefusingConsumerMixin, AsyncWebsocketConsumer):
    """Base of every websocket consumer: refuses anonymous connections (4401 with the
    reason found by :class:`~suite.realtime.auth.TicketOrSessionAuthMiddleware`) and tickets
    whose token scopes do not cover ``scope_area`` (4403 ``insufficient_scope``).

    Subclasses override :meth:`authenticated_connect` to check access to their object, then
    call ``super().authenticated_connect(user)`` to accept, or ``self.refuse(...)``. As a
    client may keep a socket for hours, a consumer that accepts writes checks the user's
    role again on each incoming write (:meth:`scope_allows` for the token side). Database
    work goes through ``channels.db.database_sync_to_async``, which closes stale connections
    (a socket outlives many ``CONN_MAX_AGE`` periods).
    """

    endpoint = "base"
    #: Token scope area this endpoint belongs to (``suite.identity.scopes.AREAS``).
    scope_area: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            WEBSOCKET_CONNECTIONS.labels(self.endpoint, "unauthenticated").inc()
            await self.refuse(
                CloseCode.NOT_AUTHENTICATED, self.scope.get("auth_error") or "not_authenticated"
            )
            return
        if self.scope_area is not None and not self.scope_allows(write=False):
            WEBSOCKET_CONNECTIONS.labels(self.endpoint, "forbidden").inc()
            await self.refuse(CloseCode.FORBIDDEN, INSUFFICIENT_SCOPE)
            return
        credential = self.credential
        if credential is None:  # every authentication names one; never accept without
            await self.refuse(CloseCode.NOT_AUTHENTICATED, "not_authenticated")
            return
        # Registered first, then checked: a revocation is either seen by the check or
        # notified to the registered socket.
        await revocation.sockets().add(self)
        self._registered = True
        ended = (await database_sync_to_async(ended_credentials)([credential])).get(credential)
        if ended is not None:
            await self.refuse(CloseCode.NOT_AUTHENTICATED, str(ended))
            return
        await self.authenticated_connect(user)

    def scope_allows(self, *, write: bool, area: str | None = None) -> bool:
        """Whether the token scopes carried by the ticket (if any) allow reading, or
        writing, in ``area`` (default: this endpoint's)."""
        area = area or self.scope_area
        if area is None:
            return True
        return token_scopes.allows(
            self.scope.get("auth_scopes"), area, "POST" if write else "GET"
        )

    @property
    def credential(self) -> Credential | None:
        """What the socket was authenticated with; it closes when that ends."""
        return self.scope.get("credential")

    async def authenticated_connect(self, user: Any) -> None:
        WEBSOCKET_CONNECTIONS.labels(self.endpoint, "accepted").inc()
        await self.accept()

    async def credential_ended(self, reason: Ended) -> None:
        """The token or session this socket was opened with ended: 4401 and why (once)."""
        if getattr(self, "_credential_closed", False):
            return
        self._credential_closed = True
        await self.close(code=int(CloseCode.NOT_AUTHENTICATED), reason=str(reason))

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if getattr(self, "_registered", False):
            self._registered = False
            revocation.sockets().discard(self)
        await super().websocket_disconnect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every message, through the
        # single sync thread: one thread hop per websocket frame. Our consumers touch the
        # database only through ``database_sync_to_async``, which does that itself around
        # each call, so frames that need no database cost no hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class NotFoundConsumer(RefusingConsumerMixin, AsyncWebsocketConsumer):
    """Catch-all route: an unknown websocket path closes with 4404 instead of raising in the
    router (an error log and a bare 500 handshake for every scanner)."""

    async def connect(self) -> None:
        WEBSOCKET_CONNECTIONS.labels("unknown", "not_found").inc()
        await self.refuse(CloseCode.NOT_FOUND, "not_found")


class EventStreamConsumer(AuthenticatedConsumer):
    """``/ws/events/``: platform events addressed to the signed-in user, as JSON envelopes
    ``{"type": "...", "data": {...}}``. The first message identifies the session:
    ``{"type": "session.ready", "data": {"user_id": "...", "auth_method": "ticket"}}``.
    The text frame ``ping`` is answered with ``pong`` (keep-alive through proxies)."""

    endpoint = "events"
    scope_area = "realtime"

    async def authenticated_connect(self, user: Any) -> None:
        self.group = user_group(user.pk)
        # Join before accepting, so no event sent after the client sees session.ready is lost.
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
