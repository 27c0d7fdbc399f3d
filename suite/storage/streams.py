"""Reading what ``BlobStore.put`` is given: bytes, a file-like object or chunks, of a
known or unknown size."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext as _

from suite.storage.errors import BlobUploadInvalid

READ_CHUNK = 64 * 1024


def size_mismatch(*, expected: int, received: int) -> BlobUploadInvalid:
    """The error for a body whose length is not the announced one."""
    return BlobUploadInvalid(
        _("The content is %(received)s bytes long, %(expected)s were announced.")
        % {"received": received, "expected": expected},
        reason="size_mismatch",
        details={"expected_size": expected, "received_size": received},
    )


class ExactSizeReader:
    """A non-seekable reader over a file-like object or an iterable of bytes chunks.

    Every ``read(n)`` returns exactly ``n`` bytes unless the source is exhausted (boto3's
    transfer manager takes a short read for the end of the stream, which would make a part
    too small). When ``size`` is known, reading raises :class:`BlobUploadInvalid` as soon as
    the body proves longer, or ends shorter: raising from ``read`` makes the upload abort,
    so no partial blob is ever stored.
    """

    def __init__(self, source: Any, size: int | None):
        self._size = size
        self._count = 0
        self._pending = b""
        if hasattr(source, "read"):
            self._read = source.read
        else:
            chunks = iter(source)

            def read_chunk(_amount: int) -> bytes:
                for chunk in chunks:
                    if chunk:
                        return bytes(chunk)
                return b""

            self._read = read_chunk

    def readable(self) -> bool:
        return True

    def read(self, amount: int | None = -1) -> bytes:
        wanted = math.inf if amount is None or amount < 0 else amount
        pieces = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        eof = False
        while have < wanted:
            chunk = self._read(READ_CHUNK if wanted == math.inf else int(wanted - have))
            if not chunk:
                eof = True
                break
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        if wanted != math.inf and len(data) > wanted:
            data, self._pending = data[: int(wanted)], data[int(wanted) :]
        self._count += len(data)
        if self._size is not None:
            if self._count > self._size:
                raise size_mismatch(expected=self._size, received=self._count)
            if eof and not self._pending and self._count < self._size:
                raise size_mismatch(expected=self._size, received=self._count)
        return data
