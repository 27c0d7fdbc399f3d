"""Rooms: the in-memory copy of a document being edited, shared by the sockets of one
server process, kept in step with the other processes through the channel layer.

Write path of an update (websocket or server-side change), in this order:

1. validated (decodes as a Yjs update) and reduced to what the room does not have yet;
2. appended to the PostgreSQL log: concurrent updates of a room are written together, in
   one transaction per flush (group commit: while one flush runs, the next batch gathers),
   which holds the access epoch: a session whose rights may have changed since they were
   resolved is resolved again there, and its updates are not stored if it may no longer
   write (``suite.access.epoch``: nothing is stored after the API answered that access or
   the credential is gone);
3. only then applied to the room's document, sent to the other local sockets and published
   to the other processes. So no peer ever sees an update that is not durable, and a crash
   at any moment loses nothing a peer has seen. A client whose update could not be written
   is disconnected (1011): on reconnection, its provider sends it again.

Other processes apply published updates and relay them to their own sockets. A process
subscribes to a room's group before it reads the document from storage, so an update is
either in what it read or in what it receives (applying one twice is harmless).

Awareness (presence, cursors) is relayed the same way, never stored; a client's entries
are removed, and peers told, when its socket closes or after
``DOCS_AWARENESS_TIMEOUT_SECONDS`` without renewal.

A room with no socket left is unloaded after ``DOCS_UNLOAD_AFTER_SECONDS``; its log is then
compacted. The log is also compacted, in the background, once ``DOCS_COMPACT_AFTER_UPDATES``
rows have been appended through the room.

Each event loop has its own registry of rooms (a server process has one loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pycrdt
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from docs_app.collab import protocol, storage
from docs_app.collab.protocol import AwarenessEntry, ProtocolError
from docs_app.collab.rooms.presence import Presence
from suite.access.epoch import session_write_epoch

logger = logging.getLogger(__name__)

#: Identifies this process's messages in the channel layer (it ignores its own).
PROCESS_ID = uuid.uuid4().hex
ACL_GROUP = "docs.acl"
MAINTENANCE_SECONDS = 5.0


def room_group(document_id: Any) -> str:
    return f"docs.room.{document_id}"


def in_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run blocking database work off the event loop, in the shared thread pool (not in
    the single thread that Django's sync views use: a compaction must not stall them)."""
    return database_sync_to_async(function, thread_sensitive=False)


class Peer(Protocol):
    """What a room needs from a socket (see ``docs_app.collab.consumer``)."""

    user: Any
    credential: Any
    writable: bool
    client_ids: set[int]
    #: The access epoch its role and credential were last resolved at.
    access_epoch: int

    def send_nowait(self, data: bytes) -> None: ...

    def may_write(self, access: Any) -> bool: ...

    async def recheck(self, access: Any) -> None: ...


Pending = tuple[bytes, "asyncio.Future[None]", "Peer | None", int]


class PersistError(RuntimeError):
    """The update log could not be written: the update was not accepted."""


class WriteRefused(RuntimeError):
    """The session lost the right to write before its update could be stored."""


class Room:
    def __init__(self, registry: Any, document_id: Any):
        self.registry = registry
        self.document_id = document_id
        self.doc = storage.new_doc()
        self.peers: set[Peer] = set()
        self.presence = Presence()
        self.closed = False
        self.log_rows = 0
        # (update, its future, the session it came from, the access epoch that session's
        # right to write was resolved at when the update was accepted).
        self._pending: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._channel: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unload: asyncio.TimerHandle | None = None
        self._index_due: asyncio.TimerHandle | None = None
        self._layer = get_channel_layer()
        # The in-memory layer only reaches this process: nothing to publish websocket edits to.
        self._publish = self._layer is not None and not isinstance(
            self._layer, InMemoryChannelLayer
        )

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        if self._layer is not None:
            self._channel = await self._layer.new_channel(prefix="docs-room.")
            await self._layer.group_add(room_group(self.document_id), self._channel)
            self._tasks.append(asyncio.create_task(self._listen(), name=f"room-listen-{self.document_id}"))
        snapshot, rows = await in_thread(storage.load_state)(self.document_id)
        if snapshot is not None:
            self.doc.apply_update(snapshot)
        for row in rows:
            self.doc.apply_update(row)
        self.log_rows = len(rows)
        if self._publish:
            # Presence lives only in memory: ask the processes already serving this document.
            await self._send_to_group({"type": "collab.awareness_query"})
        self._tasks.append(asyncio.create_task(self._maintain(), name=f"room-maintain-{self.document_id}"))

    async def join(self, peer: Peer) -> None:
        if self._unload is not None:
            self._unload.cancel()
            self._unload = None
        self.peers.add(peer)
        current = self.awareness_message()
        if current is not None:
            peer.send_nowait(current)

    async def leave(self, peer: Peer) -> None:
        self.peers.discard(peer)
        await self._awareness_changed(self.presence.departures(peer), origin=None)
        self.release()

    def release(self) -> None:
        """Unload after ``DOCS_UNLOAD_AFTER_SECONDS`` unless a socket joins meanwhile."""
        if not self.peers and not self.closed and self._unload is None:
            delay = settings.DOCS_UNLOAD_AFTER_SECONDS
            loop = asyncio.get_running_loop()
            self._unload = loop.call_later(delay, lambda: asyncio.ensure_future(self.unload()))

    async def unload(self) -> None:
        """Forget the room (when no socket came back), after a last compaction."""
        if self.peers or self.closed:
            return
        self.closed = True
        self.registry.forget(self)
        for handle in (self._unload, self._index_due):
            if handle is not None:
                handle.cancel()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        for task in self._tasks:
            task.cancel()
        if self._layer is not None and self._channel is not None:
            with contextlib.suppress(Exception):
                await self._layer.group_discard(room_group(self.document_id), self._channel)
        await self._refresh_index()
        if self._compactor is not None:
            with contextlib.suppress(Exception):
                await self._compactor
        try:
            await in_thread(storage.compact)(self.document_id)
        except Exception:
            logger.exception("compaction at unload failed", extra={"document_id": str(self.document_id)})

    # --- sync -------------------------------------------------------------------------

    def step2_for(self, state_vector: bytes) -> bytes:
        """The SyncStep2 answering a client's SyncStep1."""
        try:
            update = self.doc.get_update(state_vector)
        except ValueError:
            raise ProtocolError("bad_state_vector") from None
        return protocol.step2(update)

    def step1(self) -> bytes:
        return protocol.step1(self.doc.get_state())

    def novel(self, update: bytes) -> bytes:
        """The part of ``update`` the room does not have yet (``EMPTY_UPDATE`` if none);
        raises :class:`ProtocolError` when ``update`` is not a Yjs update."""
        try:
            return pycrdt.get_update(update, self.doc.get_state())
        except ValueError:
            raise ProtocolError("bad_update") from None

    async def submit(self, update: bytes, origin: Peer | None = None) -> bool:
        """Make ``update`` durable, then apply and relay it. ``False`` when it brought
        nothing new. Raises :class:`ProtocolError` (malformed) or :class:`PersistError`."""
        novel = self.novel(update)
        if novel == protocol.EMPTY_UPDATE:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # The epoch is taken now, with the session's right to write that let the update in:
        # by the time the flush runs, a re-check may have moved the session to a later
        # epoch (and made it read-only) while this update waited.
        epoch = origin.access_epoch if origin is not None else 0
        self._pending.append((novel, future, origin, epoch))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name=f"room-flush-{self.document_id}")
        await future
        return True

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    outcome = await in_thread(self._store)(batch)
                except Exception as exc:
                    logger.exception("update log append failed", extra={"document_id": str(self.document_id)})
                    for _, future, _, _ in batch:
                        if not future.done():
                            future.set_exception(PersistError(str(exc)))
                    continue
                stored, refreshed = outcome
                for peer, access in refreshed.items():
                    await peer.recheck(access)
                if len(stored) < len(batch):
                    kept = {id(entry) for entry in stored}
                    for _, future, _, _ in (entry for entry in batch if id(entry) not in kept):
                        if not future.done():
                            future.set_exception(WriteRefused())
                    batch = stored
                    if not batch:
                        continue
                updates = [update for update, _, _, _ in batch]
                self.log_rows += len(batch)
                self._apply_and_relay(batch)
                if self._publish:
                    await self._send_to_group({"type": "collab.update", "updates": updates})
                for _, future, _, _ in batch:
                    if not future.done():
                        future.set_result(None)
                self._after_write()
        finally:
            self._flusher = None

    def _store(self, batch: list[Pending]) -> tuple[list[Pending], dict[Peer, Any]]:
        """Append the updates of ``batch`` whose sessions may still write, in one
        transaction that holds the access epoch (``suite.access.epoch``): an update accepted
        under another epoch than the current one has its session resolved again here, and
        is not stored if that session may no longer write. Returns the entries stored, and
        the sessions resolved again with their access."""
        from docs_app.collab import acl

        with transaction.atomic():
            epoch = session_write_epoch()
            stale = list({origin for _, _, origin, seen in batch if origin is not None and seen != epoch})
            refreshed = acl.resolve_access(self.document_id, stale, epoch=epoch) if stale else {}
            stored = [
                entry for entry in batch
                if entry[2] is None or entry[3] == epoch or entry[2].may_write(refreshed[entry[2]])
            ]
            storage.append(self.document_id, [update for update, _, _, _ in stored])
        return stored, refreshed

    def _apply_and_relay(self, batch: list[Pending]) -> None:
        for update, _, _, _ in batch:
            self.doc.apply_update(update)
        if len(batch) == 1:
            update, _, origin, _ = batch[0]
            self._broadcast(protocol.update_message(update), exclude=origin)
        else:
            # One message per peer per flush (the echo to an origin is a no-op for it).
            merged = pycrdt.merge_updates(*(update for update, _, _, _ in batch))
            self._broadcast(protocol.update_message(merged))

    def _after_write(self) -> None:
        if self.log_rows >= settings.DOCS_COMPACT_AFTER_UPDATES and self._compactor is None:
            self._compactor = asyncio.create_task(self._compact(), name=f"room-compact-{self.document_id}")
        self._schedule_index()

    def _schedule_index(self) -> None:
        """Refresh excerpt and search index ``DOCS_INDEX_DEBOUNCE_MS`` after the first edit
        since the last refresh (edits in between ride along)."""
        if self._index_due is None and not self.closed:
            loop = asyncio.get_running_loop()
            delay = settings.DOCS_INDEX_DEBOUNCE_MS / 1000
            self._index_due = loop.call_later(delay, lambda: asyncio.ensure_future(self._refresh_index()))

    async def _compact(self) -> None:
        try:
            result = await in_thread(storage.compact)(self.document_id)
            if result is not None:
                self.log_rows = max(0, self.log_rows - result.merged)
        except Exception:
            logger.exception("compaction failed", extra={"document_id": str(self.document_id)})
        finally:
            self._compactor = None

    async def _refresh_index(self) -> None:
        """Excerpt and search index of the document, from the room's copy (debounced)."""
        if self._index_due is not None:
            self._index_due.cancel()
            self._index_due = None
        from docs_app.collab import indexing

        try:
            text = indexing.document_text(self.doc)
            await in_thread(indexing.store_text)(self.document_id, text)
        except Exception:
            logger.exception("content indexing failed", extra={"document_id": str(self.document_id)})

    def _broadcast(self, message: bytes, exclude: Peer | None = None) -> None:
        for peer in list(self.peers):
            if peer is not exclude:
                peer.send_nowait(message)

    # --- awareness --------------------------------------------------------------------

    async def awareness_from(self, peer: Peer, entries: list[AwarenessEntry]) -> None:
        await self._awareness_changed(self.presence.accepted_from(peer, entries), origin=peer)

    async def _awareness_changed(
        self, entries: list[AwarenessEntry], origin: Peer | None, remote: bool = False
    ) -> None:
        changed = self.presence.apply(entries, origin, remote=remote) if entries else []
        if not changed:
            return
        message = protocol.encode_awareness(changed)
        self._broadcast(message, exclude=origin)
        if self._publish and not remote:
            await self._send_to_group({"type": "collab.awareness", "awareness": message})

    def awareness_message(self) -> bytes | None:
        entries = self.presence.entries()
        return protocol.encode_awareness(entries) if entries else None

    # --- other processes ----------------------------------------------------------------

    async def _send_to_group(self, message: dict[str, Any]) -> None:
        try:
            await self._layer.group_send(room_group(self.document_id), {**message, "origin": PROCESS_ID})
        except Exception:
            # Durable already; other processes catch up when their clients resync.
            logger.exception("room fan-out failed", extra={"document_id": str(self.document_id)})

    async def _listen(self) -> None:
        assert self._channel is not None
        while True:
            message = await self._layer.receive(self._channel)
            if message.get("origin") == PROCESS_ID:
                continue
            try:
                await self.on_group_message(message)
            except Exception:
                logger.exception("bad room message", extra={"document_id": str(self.document_id)})

    async def on_group_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "collab.update":
            updates = [bytes(u) for u in message["updates"]]
            for update in updates:
                self.doc.apply_update(update)
            merged = updates[0] if len(updates) == 1 else pycrdt.merge_updates(*updates)
            self._broadcast(protocol.update_message(merged))
            self._schedule_index()
        elif kind == "collab.awareness_query":
            local = self.presence.entries(local_only=True)
            if local:
                await self._send_to_group(
                    {"type": "collab.awareness", "awareness": protocol.encode_awareness(local)}
                )
        elif kind == "collab.awareness":
            parsed = protocol.decode_message(bytes(message["awareness"]))
            if isinstance(parsed, protocol.AwarenessMessage):
                await self._awareness_changed(parsed.entries, origin=None, remote=True)

    # --- access -------------------------------------------------------------------------

    async def recheck_access(self) -> None:
        """Re-resolve the role of every socket (after an access, link, move or trash change;
        and periodically, in case a notification was lost)."""
        from docs_app.collab import acl

        peers = list(self.peers)
        if not peers:
            return
        access = await in_thread(acl.resolve_access)(self.document_id, peers)
        for peer in peers:
            await peer.recheck(access.get(peer))

    async def _maintain(self) -> None:
        last_recheck = time.monotonic()
        while True:
            await asyncio.sleep(MAINTENANCE_SECONDS)
            try:
                expired = self.presence.expired(settings.DOCS_AWARENESS_TIMEOUT_SECONDS)
                await self._awareness_changed(expired, origin=None)
                if time.monotonic() - last_recheck >= settings.DOCS_ACL_RECHECK_SECONDS:
                    last_recheck = time.monotonic()
                    await self.recheck_access()
            except Exception:
                logger.exception("room maintenance failed", extra={"document_id": str(self.document_id)})
