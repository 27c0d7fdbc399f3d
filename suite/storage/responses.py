"""Blob bytes streamed through the server in an HTTP response: byte ranges (RFC 9110 14),
safe download headers, and a body that streams under WSGI and ASGI alike.

Most downloads are presigned (:meth:`BlobStore.presigned_get`): the client fetches the
store itself. A download the server must count or be able to stop at the next request
(a share link's download limit, a revocation) cannot hand out a URL, which could be used
again until it expires: its bytes pass through here instead, read from the store in chunks
(never whole in memory).

**Why the body type depends on the request.** Django serves a streaming response whose
iterator does not match its handler by first reading the whole iterator into a list
(``StreamingHttpResponse.__aiter__`` / ``__iter__``): a synchronous generator under ASGI
(``uvicorn suite.asgi``, our production server) would be buffered whole. :func:`streaming_body`
gives ASGI an asynchronous iterator that pulls each chunk in a worker thread, and WSGI the
plain iterator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterable

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from suite.storage.base import DEFAULT_CONTENT_TYPE, BlobReader, ByteRange
from suite.storage.disposition import content_disposition, inline_allowed
from suite.storage.errors import BlobRangeNotSatisfiable

# One range only: ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix_length``.
_SINGLE_RANGE = re.compile(r"bytes=(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))")

#: Headers of every body served as a download: the browser never sniffs another type, no
#: cache keeps a copy (a shared cache would serve it again, uncounted), and a document
#: displayed in place runs nothing (``sandbox``: no script, form, plugin or same-origin
#: access) -- except PDFs, whose viewer is itself isolated and which sandboxing hides.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}
SANDBOX_POLICY = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"


def requested_range(
    header: str | None, *, size: int, etag: str | None = None, if_range: str | None = None
) -> ByteRange | None:
    """The inclusive ``(start, end)`` a ``Range`` header asks of a ``size``-byte body, or
    None to serve it whole: no header, a syntax or unit we do not serve (several ranges:
    RFC 9110 14.2 lets a server ignore them), an empty body, or an ``If-Range`` that is not
    the current ``etag`` (the client holds other bytes: strong comparison, 13.1.5).

    Raises :class:`BlobRangeNotSatisfiable` (416, with ``Content-Range: bytes */size``) for
    a range that starts at or past the end, or an empty suffix."""
    if not header or size <= 0:
        return None
    if if_range is not None and (etag is None or if_range.strip() != etag):
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored, like a syntax error (14.1.1)
    if start >= size:
        raise _unsatisfiable(size)
    return start, size - 1 if not last else min(int(last), size - 1)


def _unsatisfiable(size: int) -> BlobRangeNotSatisfiable:
    return BlobRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})


class ThreadedChunks:
    """An asynchronous iterator over a blocking one: each ``next`` runs in a worker thread
    (not the thread reserved for the ORM: reading the store needs no database), one at a
    time, so the event loop never waits for the store and memory holds one chunk.

    :meth:`close` (the response ending, or the client gone: the pending ``next`` is then
    abandoned, not stopped) waits for a chunk being read and closes the source after it: a
    generator cannot be closed while it runs, nor a stream while another thread reads it."""

    def __init__(self, chunks: Iterable[bytes]):
        self._source = chunks
        self._iterator = iter(chunks)
        self._lock = threading.Lock()
        self._closed = False
        self._next = sync_to_async(self._pull, thread_sensitive=False)

    def _pull(self) -> bytes | None:
        with self._lock:
            return None if self._closed else next(self._iterator, None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._next()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            close = getattr(self._source, "close", None)
            if close is not None:
                close()


def streaming_body(request: HttpRequest, chunks: Iterable[bytes]) -> Iterable[bytes] | ThreadedChunks:
    """``chunks`` in the form the request's handler streams without buffering (see the
    module docstring). ``chunks``' ``close()``, if any, is called when the response ends,
    also when the client went away."""
    return ThreadedChunks(chunks) if isinstance(request, ASGIRequest) else chunks


def blob_response(
    request: HttpRequest,
    reader: BlobReader,
    *,
    filename: str,
    content_type: str | None,
    inline: bool = False,
    etag: str | None = None,
    accept_ranges: bool = True,
) -> StreamingHttpResponse:
    """Stream an opened blob (whole: 200; a range: 206 with ``Content-Range``) with its
    exact ``Content-Length``, named ``filename``, displayed in place only when ``inline``
    is asked and the type cannot run script (as :meth:`BlobStore.presigned_get` decides),
    with :data:`SAFE_HEADERS`. The response closes the reader."""
    media_type = content_type or DEFAULT_CONTENT_TYPE
    shown = inline and inline_allowed(media_type)
    response = StreamingHttpResponse(
        streaming_body(request, reader),  # the reader's chunks; closing it ends the read
        content_type=media_type,
        status=206 if reader.range is not None else 200,
    )
    response["Content-Length"] = str(reader.content_length)
    if reader.range is not None:
        start, end = reader.range
        response["Content-Range"] = f"bytes {start}-{end}/{reader.info.size}"
    response["Content-Disposition"] = content_disposition(filename, inline=shown)
    response["Accept-Ranges"] = "bytes" if accept_ranges else "none"
    if etag is not None:
        response["ETag"] = etag
    for name, value in SAFE_HEADERS.items():
        response[name] = value
    if media_type.split(";", 1)[0].strip().lower() != "application/pdf" or not shown:
        response["Content-Security-Policy"] = SANDBOX_POLICY
    return response
