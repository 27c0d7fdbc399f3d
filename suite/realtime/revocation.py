"""Closing the websockets whose credential ended, on every process, within a second.

Each event loop (a server process has one) keeps the authenticated sockets it serves by
user, and listens on one channel-layer group (``realtime.credentials``), so no socket needs
a Redis subscription of its own. When ``identity.credentials_changed`` is published (token
revoked, logout, back-channel logout, password changed, account deactivated), every process
checks the credentials of that user's sockets again and closes those that ended with 4401
and the reason (``token_revoked``, ``session_ended``...). A socket whose credential has a
known expiry (API token, OIDC access token) is closed when it expires. Pub/sub delivery is
at most once, so every process also checks all its sockets every
``REALTIME_CREDENTIAL_RECHECK_SECONDS``.

Closing is the visible half; no write through such a socket is stored after the API
answered, because writes through sessions are checked against the access epoch
(``suite.access.epoch``), which the credential change bumps before the API answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from suite.identity.credentials import Credential, CredentialKind, Ended, ended_credentials
from suite.realtime.loops import PerLoop

logger = logging.getLogger(__name__)

GROUP = "realtime.credentials"


class CredentialHolder(Protocol):
    """What the registry needs from a socket (``AuthenticatedConsumer``)."""

    credential: Credential | None

    async def credential_ended(self, reason: Ended) -> None: ...


class SocketRegistry:
    """The authenticated sockets of one event loop, by user."""

    def __init__(self) -> None:
        self.by_user: dict[str, weakref.WeakSet[Any]] = {}
        self._timers: weakref.WeakKeyDictionary[Any, asyncio.TimerHandle] = weakref.WeakKeyDictionary()
        self._tasks: list[asyncio.Task[None]] = []

    async def add(self, socket: CredentialHolder) -> None:
        credential = socket.credential
        if credential is None:
            return
        await self._ensure_listening()
        self.by_user.setdefault(credential.user_id, weakref.WeakSet()).add(socket)
        if credential.expires_at is not None:
            delay = max(0.0, credential.expires_at - time.time())
            reason = Ended.TOKEN_EXPIRED if credential.kind == CredentialKind.TOKEN else Ended.CREDENTIAL_EXPIRED
            # A weak reference: a socket that went away unregistered is not kept alive
            # until its token expires.
            self._timers[socket] = asyncio.get_running_loop().call_later(
                delay, _expire, weakref.ref(socket), reason
            )

    def discard(self, socket: CredentialHolder) -> None:
        credential = socket.credential
        if credential is None:
            return
        sockets = self.by_user.get(credential.user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.by_user[credential.user_id]
        timer = self._timers.pop(socket, None)
        if timer is not None:
            timer.cancel()

    async def recheck(self, user_ids: Iterable[str] | None = None) -> None:
        """Check the credentials of the sockets of ``user_ids`` (all sockets: ``None``) and
        close those that ended."""
        keys = self.by_user.keys() if user_ids is None else [str(u) for u in user_ids]
        sockets = [s for key in list(keys) for s in list(self.by_user.get(key, ()))]
        if not sockets:
            return
        ended = await database_sync_to_async(ended_credentials, thread_sensitive=False)(
            [s.credential for s in sockets]
        )
        for socket in sockets:
            reason = ended.get(socket.credential)
            if reason is not None:
                with contextlib.suppress(Exception):  # already closing
                    await socket.credential_ended(reason)

    async def _ensure_listening(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._periodic(), name="realtime-credentials-recheck"))
        if get_channel_layer() is not None:
            self._tasks.append(asyncio.create_task(self._listen(), name="realtime-credentials"))

    async def _listen(self) -> None:
        """Subscribe, then handle notices; a broken subscription (Redis restarted) is made
        again, and what was missed meanwhile is caught by a full re-check."""
        layer = get_channel_layer()
        while True:
            try:
                channel = await layer.new_channel(prefix="realtime-credentials.")
                await layer.group_add(GROUP, channel)
                while True:
                    message = await layer.receive(channel)
                    await self.recheck(message.get("user_ids") or [])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("credential notices interrupted; re-subscribing")
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await self.recheck()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(settings.REALTIME_CREDENTIAL_RECHECK_SECONDS)
            try:
                await self.recheck()
            except Exception:
                logger.exception("periodic credential re-check failed")


def _expire(socket_ref: weakref.ref[Any], reason: Ended) -> None:
    socket = socket_ref()
    if socket is not None:
        asyncio.ensure_future(socket.credential_ended(reason))


#: The running event loop's sockets.
sockets = PerLoop(SocketRegistry)


def on_credentials_changed(event: Any) -> None:
    """``identity.credentials_changed`` (after commit): every process re-checks the sockets
    of these users."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "realtime.credentials", "user_ids": [str(u) for u in event.user_ids]}
    try:
        async_to_sync(layer.group_send)(GROUP, message)
    except Exception:
        logger.exception("credential change fan-out failed")


def subscribe() -> None:
    from suite import events

    events.subscribe("identity.credentials_changed", on_credentials_changed)
