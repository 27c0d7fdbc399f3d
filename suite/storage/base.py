"""The blob store contract: what every storage backend implements.

Application code never talks to S3 directly; it asks :func:`suite.storage.get_blob_store`
for the configured :class:`BlobStore` and uses the methods below. The contract:

* **Keys** come from :meth:`BlobStore.new_key` (``<namespace>/<yyyy>/<mm>/<uuid hex>``) and
  never contain user input; file names live in the database and are only sent to the
  browser in a ``Content-Disposition`` header (:meth:`BlobStore.presigned_get`). Every
  method validates its key and raises :class:`ValueError` for a malformed one.
* **Bytes never pass through Python when a client can talk to the store itself**: uploads
  use :meth:`presigned_put` (one request) or the ``multipart_*`` methods (large, resumable
  files); downloads use :meth:`presigned_get`. :meth:`put` and :meth:`open` are for bytes
  the server produces or must read itself (exports, previews, imports, scanning); both
  stream, never holding a whole body in memory.
* **Errors** are :mod:`suite.storage.errors`: :class:`BlobNotFound` (404),
  :class:`BlobUploadNotFound` (404), :class:`BlobUploadInvalid` (422),
  :class:`BlobRangeNotSatisfiable` (416) and :class:`BlobStoreError` (503) for anything
  else the store refuses or cannot do.
* Stores are **thread-safe**: one instance per process serves every request and task.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from suite.storage.errors import BlobNotFound
from suite.storage.validation import new_key as _new_key

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# S3's limits, which every backend honours so callers can plan uploads once.
MULTIPART_MIN_PART_SIZE = 5 * 1024 * 1024
MULTIPART_MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MULTIPART_MAX_PARTS = 10_000
PRESIGN_MAX_EXPIRES_IN = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer

# What put() accepts: bytes, a binary file-like object with read(), or an iterable of
# bytes chunks (e.g. a generator writing an export).
PutSource = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]
# An inclusive byte range as in HTTP ``Range: bytes=start-end``; end None = to the end.
ByteRange = tuple[int, int | None]


@dataclass(frozen=True)
class BlobInfo:
    """What the store knows about one blob. ``etag`` is unquoted; for a multipart object it
    is not an MD5 of the content (it ends in ``-<parts>``)."""

    key: str
    size: int
    etag: str
    content_type: str
    last_modified: dt.datetime
    metadata: dict[str, str] = field(default_factory=dict)
    #: The SHA-256 of the whole content (hex) when the store verified one at upload (a
    #: presigned PUT given ``checksum_sha256``) and reports it; "" otherwise.
    sha256: str = ""


@dataclass(frozen=True)
class PresignedRequest:
    """A request a client can make to the store without credentials until ``expires_at``.

    The client must use ``method`` and send every header in ``headers`` with exactly that
    value (they are part of the signature); it may add others the store ignores.
    """

    url: str
    method: str
    headers: dict[str, str]
    expires_at: dt.datetime


@dataclass(frozen=True)
class UploadedPart:
    """One uploaded part of a multipart upload (``etag`` unquoted)."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class MultipartUpload:
    """A multipart upload that was created and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: dt.datetime


class BlobReader:
    """A blob being read: a file-like object (``read``) and an iterator of chunks.

    Reading streams from the store; closing releases the connection. Use it as a context
    manager, or hand it to a streaming response, which iterates and then closes it.

    ``info`` describes the whole blob (``info.size`` is the blob's size); ``content_length``
    is the length of this body, which differs from it for a ranged read; ``range`` is the
    inclusive ``(start, end)`` actually served, or None for the whole blob.
    """

    chunk_size = 64 * 1024

    def __init__(
        self,
        *,
        info: BlobInfo,
        body: Any,
        content_length: int,
        range: tuple[int, int] | None = None,
    ):
        self.info = info
        self.content_length = content_length
        self.range = range
        self._body = body
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the remaining bytes if ``size`` < 0); b"" at the end."""
        return self._body.read(None if size is None or size < 0 else size)

    def readable(self) -> bool:
        return True

    def iter_chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the body in chunks of at most ``chunk_size`` bytes, then close."""
        try:
            while chunk := self.read(chunk_size or self.chunk_size):
                yield chunk
        finally:
            self.close()

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._body.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BlobStore(abc.ABC):
    """Base class of blob storage backends.

    A backend implements every abstract method below with the documented preconditions,
    return values and errors. It is constructed once per process by
    :func:`suite.storage.get_blob_store` through :meth:`from_settings`, and must be safe
    to call from many threads at once.
    """

    #: Default lifetime of presigned requests, in seconds (``expires_in=None``).
    presign_ttl: int = 900

    # --- construction ------------------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def settings_fingerprint(cls) -> tuple[Any, ...]:
        """The values of the Django settings this backend is built from.

        :func:`~suite.storage.get_blob_store` keeps one store per process and builds a new
        one when this tuple changes (e.g. a test overriding the endpoint). Read the settings
        here, at call time, never at import time.
        """

    @classmethod
    @abc.abstractmethod
    def from_settings(cls) -> BlobStore:
        """A store configured from the current Django settings."""

    # --- keys ----------------------------------------------------------------------------------

    def new_key(self, namespace: str) -> str:
        """A fresh unique key ``<namespace>/<yyyy>/<mm>/<uuid4 hex>``.

        ``namespace`` names the owner of the bytes (``"drive"``, ``"chat/attachments"``):
        one to three segments of ``[a-z][a-z0-9-]*``. It is a constant of the calling code,
        never user input; anything else raises ValueError. No request is made: the key is
        unused until something is written under it.
        """
        return _new_key(namespace)

    # --- whole blobs ---------------------------------------------------------------------------

    @abc.abstractmethod
    def put(
        self,
        key: str,
        data: PutSource,
        *,
        size: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
    ) -> BlobInfo:
        """Write ``data`` under ``key`` (replacing any blob there) and return its info.

        ``data`` is read as a stream: large bodies go up in parts, so memory stays bounded
        whatever the size. When ``size`` is given, a body of another length is refused
        with :class:`BlobUploadInvalid` and nothing is stored under ``key``. ``metadata``
        keys are lowercase ``[a-z0-9-]`` and values printable ASCII (S3 user metadata);
        otherwise ValueError. Raises :class:`BlobStoreError` if the store fails.
        """

    @abc.abstractmethod
    def open(self, key: str, *, range: ByteRange | None = None) -> BlobReader:
        """Start reading the blob at ``key``; the bytes stream as the reader is consumed.

        ``range`` is an inclusive ``(start, end)`` with ``0 <= start`` and ``end`` None
        (to the end) or ``>= start``; an ``end`` past the blob is clipped. Raises
        :class:`BlobNotFound`, :class:`BlobRangeNotSatisfiable` if ``start`` is at or past
        the end, :class:`BlobStoreError`. The caller must consume or close the reader.
        """

    @abc.abstractmethod
    def head(self, key: str) -> BlobInfo:
        """The blob's size, ETag, content type, date and metadata, without its bytes.
        Raises :class:`BlobNotFound` or :class:`BlobStoreError`."""

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``. Raises :class:`BlobStoreError` if the
        store cannot tell."""
        try:
            self.head(key)
        except BlobNotFound:
            return False
        return True

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the blob at ``key``. Idempotent: deleting a missing key succeeds.
        Raises :class:`BlobStoreError` if the store fails."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key (idempotent, like :meth:`delete`). Backends batch the requests;
        raises :class:`BlobStoreError` naming the keys that could not be deleted."""
        for key in keys:
            self.delete(key)

    @abc.abstractmethod
    def copy(self, source_key: str, destination_key: str) -> BlobInfo:
        """Copy a blob inside the store (the bytes do not pass through this process),
        keeping its content type and metadata; return the copy's info. Works for any size
        (above 5 GiB S3 needs a multipart copy). Raises :class:`BlobNotFound` if the source
        is missing, :class:`BlobStoreError`."""

    # --- presigned requests (bytes go between the client and the store) ------------------------

    @abc.abstractmethod
    def presigned_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        checksum_sha256: str | None = None,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        """A one-request upload of exactly ``size`` bytes of type ``content_type`` to ``key``.

        ``size`` and ``content_type`` (and ``checksum_sha256``, a hex SHA-256 of the body,
        when given) are part of the signature: the store refuses a body of another length,
        type or digest. The client sends ``headers`` as given (``Content-Type``, the
        checksum header) and the body; browsers set ``Content-Length`` themselves. Stores
        that do not enforce the signed length exist, so callers still check the stored size
        (:meth:`head`) before accepting an upload. For bodies above 5 GiB use multipart.
        ``expires_in`` defaults to :attr:`presign_ttl` (1 s to 7 days, else ValueError).
        """

    @abc.abstractmethod
    def presigned_get(
        self,
        key: str,
        *,
        filename: str,
        content_type: str | None = None,
        inline: bool = False,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        """A download URL for ``key`` answering with ``Content-Disposition`` naming
        ``filename`` (any Unicode; see :func:`suite.storage.disposition.content_disposition`)
        and, if given, ``Content-Type: content_type``.

        ``inline`` asks the browser to display the file; it is only honoured when
        ``content_type`` is given and cannot run script
        (:func:`~suite.storage.disposition.inline_allowed`), otherwise the file is served as
        an attachment. No request is made: a missing blob is a 404 from the store
        when the URL is used.
        """

    # --- multipart uploads (large and resumable) -----------------------------------------------

    @abc.abstractmethod
    def multipart_create(
        self, key: str, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Start a multipart upload to ``key`` and return its upload id. Nothing is visible
        under ``key`` until :meth:`multipart_complete`. Raises :class:`BlobStoreError`."""

    @abc.abstractmethod
    def multipart_part_url(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int | None = None,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        """A presigned ``PUT`` uploading part ``part_number`` (1 to 10,000) of an upload.

        Every part but the last must hold at least 5 MiB. With ``size`` the part's length is
        signed too. Uploading a part number again replaces that part, which is how a client
        retries. No request is made: an unknown ``upload_id`` fails when the URL is used.
        """

    @abc.abstractmethod
    def multipart_list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts uploaded so far, by part number: a client resuming after a disconnect
        uploads only the missing ones. Raises :class:`BlobUploadNotFound`."""

    @abc.abstractmethod
    def multipart_complete(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart] | None = None
    ) -> BlobInfo:
        """Assemble the parts into the blob at ``key`` and return its info.

        ``parts`` (number and ETag of each, any order) are the ones to assemble; None means
        every part the store holds (:meth:`multipart_list_parts`), so clients that cannot
        read ETags (browsers without CORS exposure) need not report them. Raises
        :class:`BlobUploadNotFound`, :class:`BlobUploadInvalid` (a part missing, an ETag
        that does not match, a part other than the last under 5 MiB, no part at all),
        :class:`BlobStoreError`.
        """

    @abc.abstractmethod
    def multipart_abort(self, key: str, upload_id: str) -> None:
        """Abort an upload and free its parts. Idempotent: aborting an upload that no longer
        exists (completed, aborted) succeeds. Raises :class:`BlobStoreError`."""

    @abc.abstractmethod
    def multipart_list_uploads(
        self, prefix: str = "", *, older_than: dt.timedelta | None = None
    ) -> list[MultipartUpload]:
        """Uploads under ``prefix`` (e.g. ``"drive/"``) neither completed nor aborted,
        optionally only those started more than ``older_than`` ago: what a cleanup task
        aborts. Raises :class:`BlobStoreError`."""

    # --- operations ----------------------------------------------------------------------------

    @abc.abstractmethod
    def check(self) -> None:
        """Verify that the store answers and accepts our credentials (``/readyz``).
        Raises :class:`BlobStoreError` whose message says what is wrong (unreachable
        endpoint, refused credentials, missing bucket)."""
