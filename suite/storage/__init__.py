"""Blob storage: one documented contract (:class:`BlobStore`), an S3 backend, and
:func:`get_blob_store`, which every app uses to reach the configured store.

Typical use (a drive upload)::

    store = get_blob_store()
    key = store.new_key("drive")
    request = store.presigned_put(key, size=size, content_type=content_type)
    # ... the client PUTs the bytes to request.url, then tells the API it is done:
    info = store.head(key)  # check info.size / info.content_type before accepting
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from suite.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MULTIPART_MAX_PART_SIZE,
    MULTIPART_MAX_PARTS,
    MULTIPART_MIN_PART_SIZE,
    BlobInfo,
    BlobReader,
    BlobStore,
    MultipartUpload,
    PresignedRequest,
    UploadedPart,
)
from suite.storage.disposition import content_disposition, inline_allowed
from suite.storage.errors import (
    BlobNotFound,
    BlobRangeNotSatisfiable,
    BlobStoreError,
    BlobUploadInvalid,
    BlobUploadNotFound,
)
from suite.storage.validation import (
    new_key,
    validate_content_type,
    validate_key,
    validate_namespace,
)

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MULTIPART_MAX_PARTS",
    "MULTIPART_MAX_PART_SIZE",
    "MULTIPART_MIN_PART_SIZE",
    "BlobInfo",
    "BlobNotFound",
    "BlobRangeNotSatisfiable",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "BlobUploadInvalid",
    "BlobUploadNotFound",
    "MultipartUpload",
    "PresignedRequest",
    "UploadedPart",
    "content_disposition",
    "get_blob_store",
    "inline_allowed",
    "new_key",
    "validate_content_type",
    "validate_key",
    "validate_namespace",
]

_lock = threading.Lock()
# (backend path, settings fingerprint) -> the store built from them. One entry: when the
# settings change (tests), the previous store and its connection pool are dropped.
_current: tuple[tuple[Any, ...], BlobStore] | None = None


def get_blob_store() -> BlobStore:
    """The process's blob store, built once from ``settings.STORAGE_BACKEND`` (default
    ``suite.storage.s3.S3BlobStore``) and the backend's settings.

    Every call returns the same instance (so the process has one S3 client and one
    connection pool) until those settings change, then a new one. Thread-safe.
    """
    global _current
    backend_path = settings.STORAGE_BACKEND
    backend: type[BlobStore] = import_string(backend_path)
    fingerprint = (backend_path, *backend.settings_fingerprint())
    current = _current
    if current is not None and current[0] == fingerprint:
        return current[1]
    with _lock:
        # Another thread may have built it while this one waited for the lock.
        if _current is None or _current[0] != fingerprint:
            _current = (fingerprint, backend.from_settings())
        return _current[1]
