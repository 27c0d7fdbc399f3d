"""Websocket compression (permessage-deflate, RFC 7692) as this server negotiates it.

Off by default (``WS_PER_MESSAGE_DEFLATE=false``), like the ``ws`` servers behind y-websocket
and Hocuspocus: with uvicorn's default settings every socket keeps a compressor and a
decompressor for its whole life (about 40 kB per socket, measured in ``bench/RESULTS.md``)
and every frame is compressed, even a 30-byte keystroke, and a document's first sync pays the
compression of its whole state (about 8 ms for 350 kB).

When turned on, compression is negotiated so that it costs memory only while a message is
being compressed or decompressed, and CPU only where it saves bandwidth:

- ``server_no_context_takeover`` and ``client_no_context_takeover``: each message is
  (de)compressed on its own, so no zlib state stays attached to an idle socket;
- outgoing messages under ``WS_DEFLATE_MIN_BYTES`` are sent uncompressed (RFC 7692 section 6
  lets a sender leave any message uncompressed), as Node ``ws`` does with its threshold;
- compression level 1: for Yjs state it compresses about 3x in about half the time of the
  default level (see decision 0010).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionParameter

COMPRESS_LEVEL = 1


class ThresholdPerMessageDeflate(PerMessageDeflate):
    """permessage-deflate that leaves small outgoing messages uncompressed."""

    def __init__(self, *args: Any, min_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.min_bytes = min_bytes

    def encode(self, frame: Frame) -> Frame:
        # Only whole messages (a single final frame) are left uncompressed: once the first frame
        # of a fragmented message is compressed, its continuation frames must be too.
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY) and frame.fin and len(frame.data) < self.min_bytes:
            return frame
        return super().encode(frame)


class ThresholdDeflateFactory(ServerPerMessageDeflateFactory):
    """Accepts a client's permessage-deflate offer without context takeover either way."""

    def __init__(self, min_bytes: int) -> None:
        super().__init__(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            compress_settings={"level": COMPRESS_LEVEL},
        )
        self.min_bytes = min_bytes

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, extension = super().process_request_params(params, accepted_extensions)
        return response, ThresholdPerMessageDeflate(
            extension.remote_no_context_takeover,
            extension.local_no_context_takeover,
            extension.remote_max_window_bits,
            extension.local_max_window_bits,
            extension.compress_settings,
            min_bytes=self.min_bytes,
        )


def websocket_protocol(*, deflate: bool, min_bytes: int) -> type[WebSocketsSansIOProtocol]:
    """The uvicorn websocket protocol class for these compression settings."""

    class CommunsWebSocketProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn builds its own (always-on, context-keeping) extension list; replace it.
            self.conn.available_extensions = [ThresholdDeflateFactory(min_bytes)] if deflate else []

    return CommunsWebSocketProtocol
