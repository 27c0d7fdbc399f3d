"""Helpers for the collaboration tests: a y-websocket client built on pycrdt, talking to the
real ASGI application (real PostgreSQL, real Redis channel layer) in process."""

from __future__ import annotations

import asyncio

import pycrdt
import pytest

from docs_app.collab import protocol
from tests.suite.realtime.conftest import WebsocketCommunicator, ticket_for  # noqa: F401

API = "/api/v1/documents"


class YClient:
    """One editor: a pycrdt document synced over a websocket to ``/ws/docs/<id>``."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.ws = communicator
        self.doc = pycrdt.Doc()
        self.text = self.doc.get("text", type=pycrdt.Text)
        self.denied: list[str] = []
        self.awareness: list[list[protocol.AwarenessEntry]] = []
        self.closed: tuple[int, str] | None = None

    @classmethod
    async def open(cls, document_id, ticket: str, *, sync: bool = True) -> YClient:
        from suite.asgi import application

        communicator = WebsocketCommunicator(application, f"/ws/docs/{document_id}?ticket={ticket}")
        assert await communicator.connect(), "handshake refused"
        client = cls(communicator)
        if sync:
            await client.sync()
        return client

    async def send(self, data: bytes) -> None:
        await self.ws.send_input({"type": "websocket.receive", "bytes": data})

    async def send_text(self, text: str) -> None:
        await self.ws.send_input({"type": "websocket.receive", "text": text})

    async def receive(self, timeout: float = 3) -> bytes | None:
        """The next binary message (handled), or ``None`` when the socket closed."""
        output = await self.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.closed = (output.get("code"), output.get("reason"))
            await self.ws.send_input({"type": "websocket.disconnect", "code": output.get("code")})
            return None
        assert output["type"] == "websocket.send", output
        data = output["bytes"]
        self.handle(data)
        return data

    def handle(self, data: bytes) -> None:
        decoder = protocol.Decoder(data)
        kind = decoder.varuint()
        if kind == protocol.MessageType.SYNC:
            sub = decoder.varuint()
            payload = decoder.varbytes()
            if sub == protocol.SyncType.STEP1:
                return  # answered explicitly by sync()
            self.doc.apply_update(payload)
        elif kind == protocol.MessageType.AWARENESS:
            self.awareness.append(protocol.decode_awareness(decoder.varbytes()))
        elif kind == protocol.MessageType.AUTH:
            assert decoder.varuint() == 0
            self.denied.append(decoder.varstring())

    async def sync(self) -> None:
        """Handshake: our Step1, their Step2 then Step1, our Step2."""
        await self.send(protocol.step1(self.doc.get_state()))
        kinds = []
        while len(kinds) < 2:
            data = await self.receive()
            assert data is not None, self.closed
            if data[0] == protocol.MessageType.SYNC and data[1] != protocol.SyncType.UPDATE:
                kinds.append(data[1])
                if data[1] == protocol.SyncType.STEP1:
                    state = protocol.Decoder(data[2:]).varbytes()
                    await self.send(protocol.step2(self.doc.get_update(state)))
        assert kinds == [protocol.SyncType.STEP2, protocol.SyncType.STEP1]

    async def type(self, index: int, value: str) -> bytes:
        before = self.doc.get_state()
        self.text.insert(index, value)
        update = self.doc.get_update(before)
        await self.send(protocol.update_message(update))
        return update

    async def drain(self, quiet: float = 0.3) -> None:
        """Handle whatever arrives until nothing has come for ``quiet`` seconds (a timeout
        of ``receive_output`` would cancel the application, hence ``receive_nothing``)."""
        while self.closed is None and not await self.ws.receive_nothing(quiet):
            await self.receive()

    async def wait_for_text(self, expected: str, timeout: float = 3) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while str(self.text) != expected:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"text is {str(self.text)!r}, expected {expected!r}"
            assert await self.receive(remaining) is not None, self.closed

    async def expect_close(self, timeout: float = 3) -> tuple[int, str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.closed is None:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, "the socket stayed open"
            await self.receive(remaining)
        return self.closed

    async def close(self) -> None:
        if self.closed is None:
            await self.ws.send_input({"type": "websocket.disconnect", "code": 1000})
            await self.ws.wait(3)


@pytest.fixture
def fast_rooms(settings):
    """Rooms unload at once when empty (so a test ends with no background work)."""
    settings.DOCS_UNLOAD_AFTER_SECONDS = 0
    settings.DOCS_INDEX_DEBOUNCE_MS = 50
    return settings
