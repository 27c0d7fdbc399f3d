"""``/ws/docs/<document id>``: the y-websocket endpoint of a document.

Any ``WebsocketProvider`` connects as is: ``new WebsocketProvider("wss://HOST/ws/docs", id,
ydoc, {params: {ticket}})`` builds ``/ws/docs/<id>?ticket=...`` (the trailing slash is
optional). Authentication is the platform's (session cookie or ticket, see
``suite.realtime.auth``); the document must be visible to the user (else 4404, the same
answer as a missing document).

Editors and above (with a token scope allowing writes) get a read-write session; readers
and commenters a read-only one: their Step2/Update messages carrying anything new are
answered with y-protocols' auth "permission denied" message and neither applied nor
relayed. The role is held per socket and re-resolved whenever access to the document or an
ancestor changes, on every process (:mod:`docs_app.collab.acl`): a session is downgraded,
upgraded, or closed (4403 ``access_revoked``, 4404 ``document_deleted``) within a second.

Malformed messages close only their own socket: 4400 with the reason from
:class:`~docs_app.collab.protocol.ProtocolError` (``truncated_varint``,
``unknown_message_type``, ``bad_update``, ``text_frames_not_supported`` ...), 4413
``message_too_large`` above ``DOCS_WS_MAX_MESSAGE_BYTES``. A socket that cannot keep up
with the document's traffic is closed with 1013 ``too_slow`` (it resyncs on reconnection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from docs_app.collab import protocol
from docs_app.collab.acl import Access, resolve_access
from docs_app.collab.protocol import ProtocolError, SyncType
from docs_app.collab.rooms import PersistError, Room, WriteRefused, registry
from suite.identity.credentials import Ended
from suite.observability import WEBSOCKET_CONNECTIONS
from suite.realtime.consumers import AuthenticatedConsumer, CloseCode

logger = logging.getLogger(__name__)

#: Messages waiting for a slow socket before it is dropped.
OUTBOX_LIMIT = 5000
CLOSE_TRY_AGAIN = 1013
CLOSE_INTERNAL = 1011
READ_ONLY_REASON = "read-only: your role on this document does not allow editing"


class DocumentSyncConsumer(AuthenticatedConsumer):
    endpoint = "docs"
    scope_area = "docs"
    #: No channel-layer channel per socket (a Redis subscription each): rooms fan out.
    channel_layer_alias = None

    room: Room | None = None
    access_epoch = -1

    async def authenticated_connect(self, user: Any) -> None:
        self.user = user
        self.client_ids: set[int] = set()
        self.writable = False
        self._closing = False
        try:
            self.document_id = uuid.UUID(self.scope["url_route"]["kwargs"]["document_id"])
        except ValueError:
            await self.refuse(CloseCode.NOT_FOUND, "not_found")
            return
        # The room loads while access is checked (both wait on the database); when access
        # is refused, the loaded room is released unseen and unloads like an idle one.
        loading = asyncio.ensure_future(registry().room(self.document_id))
        try:
            resolved = await database_sync_to_async(resolve_access)(self.document_id, [self])
        except BaseException:
            loading.add_done_callback(_release_unused)
            raise
        access = resolved[self]
        if access.ended is not None:
            loading.add_done_callback(_release_unused)
            await self.refuse(CloseCode.NOT_AUTHENTICATED, str(access.ended))
            return
        if not access.can_view:
            loading.add_done_callback(_release_unused)
            WEBSOCKET_CONNECTIONS.labels(self.endpoint, "not_found").inc()
            await self.refuse(CloseCode.NOT_FOUND, "not_found")
            return
        self.writable = self.may_write(access)
        self.access_epoch = access.epoch
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._drain(), name="docs-socket-writer")
        await super().authenticated_connect(user)
        self.room = await loading
        await self.room.join(self)

    def may_write(self, access: Access) -> bool:
        return access.can_edit and self.scope_allows(write=True)

    # --- outgoing ----------------------------------------------------------------------

    def send_nowait(self, data: bytes) -> None:
        if self._closing:
            return
        if self._outbox.qsize() >= OUTBOX_LIMIT:
            self._closing = True
            asyncio.ensure_future(self.close(code=CLOSE_TRY_AGAIN, reason="too_slow"))
            return
        self._outbox.put_nowait(data)

    async def _drain(self) -> None:
        while True:
            data = await self._outbox.get()
            if data is None:
                return
            try:
                await self.send(bytes_data=data)
            except Exception:  # the socket went away; disconnect() cleans up
                return

    async def _close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        await self.close(code=int(code), reason=reason)

    # --- incoming ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.room is None or self._closing:
            return
        if bytes_data is None:
            await self._close(CloseCode.MALFORMED, "text_frames_not_supported")
            return
        if len(bytes_data) > settings.DOCS_WS_MAX_MESSAGE_BYTES:
            await self._close(CloseCode.TOO_LARGE, "message_too_large")
            return
        try:
            await self._handle(protocol.decode_message(bytes_data))
        except ProtocolError as exc:
            await self._close(CloseCode.MALFORMED, exc.reason)
        except PersistError:
            await self._close(CLOSE_INTERNAL, "not_saved")
        except WriteRefused:
            # Rights changed before the update could be stored; recheck() has already
            # made the session read-only (and said so) or closed it.
            pass

    async def _handle(self, message: protocol.Message) -> None:
        room = self.room
        assert room is not None
        if isinstance(message, protocol.SyncMessage):
            if message.kind == SyncType.STEP1:
                # sync.js order: our Step2 answers theirs, then our own Step1.
                self.send_nowait(room.step2_for(message.payload))
                self.send_nowait(room.step1())
                return
            if not self.writable:
                # Anything new from a read-only session is refused, never applied.
                if room.novel(message.payload) != protocol.EMPTY_UPDATE:
                    self.send_nowait(protocol.permission_denied(READ_ONLY_REASON))
                return
            await room.submit(message.payload, origin=self)
        elif isinstance(message, protocol.AwarenessMessage):
            await room.awareness_from(self, message.entries)
        elif isinstance(message, protocol.QueryAwarenessMessage):
            current = room.awareness_message()
            if current is not None:
                self.send_nowait(current)

    # --- access changes ----------------------------------------------------------------

    async def credential_ended(self, reason: Ended) -> None:
        await self._close(CloseCode.NOT_AUTHENTICATED, str(reason))

    async def recheck(self, access: Access | None) -> None:
        # The epoch and the right to write change together (no await in between): the room
        # records the epoch of each update it accepts (see Room.submit).
        if access is not None:
            self.access_epoch = access.epoch
        if access is not None and access.ended is not None:
            self.writable = False
            await self._close(CloseCode.NOT_AUTHENTICATED, str(access.ended))
            return
        if access is None or not access.can_view:
            self.writable = False
            reason = "document_deleted" if access is not None and access.in_trash else "access_revoked"
            code = CloseCode.NOT_FOUND if reason == "document_deleted" else CloseCode.FORBIDDEN
            await self._close(code, reason)
            return
        writable = self.may_write(access)
        if self.writable and not writable:
            self.send_nowait(protocol.permission_denied(READ_ONLY_REASON))
        self.writable = writable

    async def disconnect(self, code: int) -> None:
        self._closing = True
        outbox = getattr(self, "_outbox", None)
        if outbox is not None:
            outbox.put_nowait(None)
        if self.room is not None:
            room, self.room = self.room, None
            with contextlib.suppress(Exception):
                await room.leave(self)


def _release_unused(loading: asyncio.Future[Room]) -> None:
    if not loading.cancelled() and loading.exception() is None:
        loading.result().release()
