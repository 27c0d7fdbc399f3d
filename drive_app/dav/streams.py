"""Bytes through DAV without holding them: GET reads S3 lazily (ranged reads, seekable),
PUT hands the request body to ``file_write`` as a stream.

PUT: WsgiDAV calls ``begin_write()``, then ``writelines(<request body chunks>)`` on what it
returned when that object has the method. :class:`UploadWriter` implements it by calling
``file_write`` in the same thread with the chunk iterator wrapped as a file-like body: the
request body is *pulled* from the socket as S3 takes it (multipart parts above the store's
threshold), so memory stays bounded by the store's part buffers, nothing touches the disk,
and no extra thread or pipe is needed. Every check of the REST API applies (rights, quota,
size, type, scan, versions).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from drive_app.dav.errors import DavProblem, problem_from
from drive_app.models import UploadState
from drive_app.services.uploads import file_write
from suite.errors import SuiteError
from suite.storage import BlobReader, get_blob_store, validate_content_type


class BlobRangeReader(io.RawIOBase):
    """A seekable, lazily opened reader over one S3 object of known ``size``.

    Nothing is requested until the first ``read``; a ``seek`` drops the current stream and
    the next read opens a ranged GET from the new position. ``planned_end`` (inclusive) is
    the end of the byte range the response will send: when the reader was positioned with
    ``seek`` (WsgiDAV seeks only when it honours a Range), S3 is asked for exactly that
    range, not for the rest of the object.
    """

    def __init__(self, key: str, size: int, *, planned_end: int | None = None):
        super().__init__()
        self.key = key
        self.size = size
        self.position = 0
        self.planned_end = planned_end
        self._positioned = False
        self._stream: BlobReader | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        target = max(0, base + offset)
        if target != self.position or self._stream is None:
            self._drop()
        self.position = target
        self._positioned = True
        return target

    def read(self, size: int | None = -1) -> bytes:
        if self.position >= self.size:
            return b""
        if self._stream is None:
            end = self.planned_end if self._positioned and self.planned_end is not None else None
            self._stream = get_blob_store().open(self.key, range=(self.position, end))
        data = self._stream.read(-1 if size is None else size)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        self._drop()
        super().close()


class ChunkStream(io.RawIOBase):
    """A file-like ``read(n)`` over an iterator of byte chunks (the request body).

    Reads are short (at most one chunk): the store's reader assembles its parts from them
    with a single join, so no byte is copied more than needed on the way to S3."""

    def __init__(self, chunks: Iterable[bytes]):
        super().__init__()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            data = self._pending + b"".join(self._chunks)
            self._pending = b""
            return data
        if not self._pending:
            self._pending = next(self._chunks, b"")
        if len(self._pending) <= size:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data


def declared_type(environ: dict[str, Any]) -> str | None:
    """The request's Content-Type when it is a valid MIME type (clients send odd ones; the
    stored type is always the one found in the bytes)."""
    value = (environ.get("CONTENT_TYPE") or "").strip()
    if not value:
        return None
    try:
        return validate_content_type(value)
    except Exception:  # noqa: BLE001 -- an unusable declaration is no declaration
        return None


def declared_size(environ: dict[str, Any]) -> int | None:
    """The body's Content-Length, or None for a chunked body (``file_write`` then stops
    reading it as soon as it passes the room left in the quota or the size limit)."""
    if "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
        return None
    value = (environ.get("CONTENT_LENGTH") or "").strip()
    if not value:
        return None
    try:
        size = int(value)
    except ValueError:
        raise DavProblem(400, _("The Content-Length header is not a number.")) from None
    if size < 0:
        raise DavProblem(400, _("The Content-Length header is not a number."))
    return size


class UploadWriter:
    """What ``begin_write`` returns: ``writelines`` streams the body into ``file_write``
    (a new version of ``item_id``, or the file ``title`` in folder ``parent_id``) and hands
    the written item to ``on_written``."""

    def __init__(self, *, actor: Any, environ: dict[str, Any], on_written: Any, item_id: Any = None,
                 parent: Any = None, title: str | None = None):
        self.actor = actor
        self.environ = environ
        self.on_written = on_written
        self.item_id = item_id
        self.parent = parent
        self.title = title

    def writelines(self, chunks: Iterable[bytes]) -> None:
        target: dict[str, Any] = (
            {"item_id": self.item_id} if self.item_id is not None else {"parent": self.parent, "title": self.title}
        )
        try:
            item = file_write(
                actor=self.actor, body=ChunkStream(chunks), size=declared_size(self.environ),
                content_type=declared_type(self.environ), **target,
            )
        except SuiteError as exc:
            raise problem_from(exc) from exc
        if item.upload_state == UploadState.INFECTED:
            # Kept aside for the administrators and never served: the client must not
            # believe its file is stored.
            raise DavProblem(422, _("The file contains malware; it was kept aside and will not be served."),
                             code="infected")
        self.on_written(item)

    def write(self, data: bytes) -> None:
        """WsgiDAV uses :meth:`writelines` whenever it exists; single writes would need the
        whole body to be known up front."""
        raise NotImplementedError("UploadWriter streams through writelines()")

    def close(self) -> None:
        return None
