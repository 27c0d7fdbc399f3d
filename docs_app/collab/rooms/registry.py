"""The rooms of one event loop (a server process has one), created once per document
even when sockets join at the same moment, and the loop's subscription to access changes
(``docs.acl``, see :mod:`docs_app.collab.acl`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer

from docs_app.collab.rooms.room import ACL_GROUP, Room, in_thread
from suite.realtime.loops import PerLoop

logger = logging.getLogger(__name__)


class Registry:
    """The rooms of one event loop, and its subscription to access changes."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self._starting: dict[str, asyncio.Future[Room]] = {}
        self._acl_task: asyncio.Task[None] | None = None

    async def room(self, document_id: Any) -> Room:
        key = str(document_id)
        room = self.rooms.get(key)
        if room is not None and not room.closed:
            return room
        starting = self._starting.get(key)
        if starting is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
        self._starting[key] = future
        try:
            await self._ensure_acl_listener()
            room = Room(self, key)
            await room.start()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._starting.pop(key, None)
        self.rooms[key] = room
        future.set_result(room)
        return room

    def forget(self, room: Room) -> None:
        if self.rooms.get(room.document_id) is room:
            del self.rooms[room.document_id]

    async def _ensure_acl_listener(self) -> None:
        layer = get_channel_layer()
        if self._acl_task is not None or layer is None:
            return
        channel = await layer.new_channel(prefix="docs-acl.")
        await layer.group_add(ACL_GROUP, channel)
        self._acl_task = asyncio.create_task(self._listen_acl(layer, channel), name="docs-acl")

    async def _listen_acl(self, layer: Any, channel: str) -> None:
        while True:
            message = await layer.receive(channel)
            try:
                await self.on_acl_message(message)
            except Exception:
                logger.exception("access change handling failed")

    async def on_acl_message(self, message: dict[str, Any]) -> None:
        """Re-check the sockets of the rooms a ``docs.acl`` message concerns: named
        documents, sockets of named users, and documents under named subtrees (one query)."""
        ids = {str(d) for d in message.get("document_ids") or []}
        user_ids = {str(u) for u in message.get("user_ids") or []}
        paths = message.get("paths") or []
        rooms = list(self.rooms.values())
        affected = {
            room.document_id for room in rooms
            if room.document_id in ids or any(str(p.user.pk) in user_ids for p in room.peers)
        }
        rest = [room.document_id for room in rooms if room.document_id not in affected]
        if paths and rest:
            from docs_app.collab import acl

            affected |= await in_thread(acl.documents_under)(rest, paths)
        await asyncio.gather(
            *(room.recheck_access() for room in rooms if room.document_id in affected),
            return_exceptions=True,
        )


#: The running event loop's rooms.
registry = PerLoop(Registry)
