"""The y-websocket wire protocol (y-protocols ``PROTOCOL.md``, ``sync.js``, ``awareness.js``,
``auth.js``), decoded strictly: a truncated number, a length running past the end, trailing
bytes or an unknown type raise :class:`ProtocolError` with a short machine reason, which the
consumer sends as the close reason. Nothing here touches a document.

A message is ``varuint type`` + payload:

- ``0`` sync: ``varuint subtype`` (0 Step1, 1 Step2, 2 Update) + ``varbytes``;
- ``1`` awareness: ``varbytes`` holding ``varuint n`` then ``n`` × (client, clock, state JSON);
- ``2`` auth (server to client only): ``varuint 0`` (permission denied) + ``varstring reason``;
- ``3`` query awareness (no payload): answer with the awareness of everyone.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

#: The Yjs update that changes nothing (no structs, empty delete set).
EMPTY_UPDATE = b"\x00\x00"
MAX_VARUINT_BYTES = 8  # 2**56: more than any length or Yjs client id (53 bits) needs


class MessageType(enum.IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(enum.IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class ProtocolError(ValueError):
    """A malformed message; ``reason`` is short and machine-readable."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Decoder:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        result = 0
        shift = 0
        for _ in range(MAX_VARUINT_BYTES):
            if self.pos >= len(self.data):
                raise ProtocolError("truncated_varint")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
        raise ProtocolError("varint_too_long")

    def varbytes(self) -> bytes:
        length = self.varuint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolError("truncated_payload")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def varstring(self) -> str:
        try:
            return self.varbytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid_utf8") from None

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError("trailing_bytes")


def varuint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    out.append(number)
    return bytes(out)


def varbytes(data: bytes) -> bytes:
    return varuint(len(data)) + data


def varstring(text: str) -> bytes:
    return varbytes(text.encode("utf-8"))


# --- messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncMessage:
    kind: SyncType
    payload: bytes  # a state vector (Step1) or an update (Step2, Update)


@dataclass(frozen=True)
class AwarenessMessage:
    payload: bytes  # the awareness update, relayed as is
    entries: list[AwarenessEntry]


@dataclass(frozen=True)
class QueryAwarenessMessage:
    pass


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # the JSON text; "null" when the client left

    @property
    def removed(self) -> bool:
        return self.state == "null"


Message = SyncMessage | AwarenessMessage | QueryAwarenessMessage


def decode_message(data: bytes) -> Message:
    """Decode one client message, or raise :class:`ProtocolError`."""
    decoder = Decoder(data)
    kind = decoder.varuint()
    message: Message
    if kind == MessageType.SYNC:
        sub = decoder.varuint()
        if sub not in (SyncType.STEP1, SyncType.STEP2, SyncType.UPDATE):
            raise ProtocolError("unknown_sync_type")
        message = SyncMessage(SyncType(sub), decoder.varbytes())
    elif kind == MessageType.AWARENESS:
        payload = decoder.varbytes()
        message = AwarenessMessage(payload, decode_awareness(payload))
    elif kind == MessageType.QUERY_AWARENESS:
        message = QueryAwarenessMessage()
    else:
        raise ProtocolError("unknown_message_type")
    decoder.done()
    return message


def decode_awareness(payload: bytes) -> list[AwarenessEntry]:
    decoder = Decoder(payload)
    count = decoder.varuint()
    if count > 10_000:
        raise ProtocolError("awareness_too_many_clients")
    entries = []
    for _ in range(count):
        client_id = decoder.varuint()
        clock = decoder.varuint()
        state = decoder.varstring()
        try:
            json.loads(state)
        except ValueError:
            raise ProtocolError("awareness_invalid_json") from None
        entries.append(AwarenessEntry(client_id, clock, state))
    decoder.done()
    return entries


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    """An awareness message (type 1) carrying ``entries``."""
    body = bytearray(varuint(len(entries)))
    for entry in entries:
        body += varuint(entry.client_id) + varuint(entry.clock) + varstring(entry.state)
    return awareness_message(bytes(body))


def awareness_message(payload: bytes) -> bytes:
    return varuint(MessageType.AWARENESS) + varbytes(payload)


def sync_message(kind: SyncType, payload: bytes) -> bytes:
    return varuint(MessageType.SYNC) + varuint(kind) + varbytes(payload)


def step1(state_vector: bytes) -> bytes:
    return sync_message(SyncType.STEP1, state_vector)


def step2(update: bytes) -> bytes:
    return sync_message(SyncType.STEP2, update)


def update_message(update: bytes) -> bytes:
    return sync_message(SyncType.UPDATE, update)


def permission_denied(reason: str) -> bytes:
    """y-protocols ``auth.js`` permission-denied message."""
    return varuint(MessageType.AUTH) + varuint(0) + varstring(reason)


def awareness_json(state: Any) -> str:
    return json.dumps(state, separators=(",", ":"))
