"""Errors raised by blob stores.

They are :class:`~suite.errors.SuiteError` subclasses, so an API handler that lets one
escape answers with the uniform error shape: a missing blob is a 404, a blob store that
cannot be reached or refuses our credentials is a 503 (the client may retry), a refused
multipart completion is a 422. Programming errors (an invalid key or namespace, a part
number out of range) are plain :class:`ValueError`: keys never come from users.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from suite.errors import SuiteError


class BlobStoreError(SuiteError):
    """The blob store failed: unreachable, misconfigured, or it refused the request.

    ``details["reason"]`` carries the store's own error code when there is one (for S3:
    ``AccessDenied``, ``NoSuchBucket``, ``unreachable``, ...) so logs and ``/readyz`` can say
    what to fix; the message never contains credentials.
    """

    code = "storage_unavailable"
    status = 503

    def __init__(self, message: str | None = None, *, reason: str | None = None, **kwargs: Any):
        details = dict(kwargs.pop("details", None) or {})
        if reason:
            details["reason"] = reason
        if message is None and type(self) is BlobStoreError:
            message = _("The file storage is unavailable; try again later.")
        super().__init__(message, details=details, **kwargs)
        self.reason = reason


class BlobNotFound(BlobStoreError):
    """No blob under this key (never written, deleted, or a multipart upload not completed)."""

    code = "blob_not_found"
    status = 404

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or _("The file content was not found."), **kwargs)


class BlobUploadNotFound(BlobNotFound):
    """No multipart upload with this id for this key (never created, completed or aborted)."""

    code = "upload_not_found"

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or _("This upload does not exist or has already ended."), **kwargs)


class BlobUploadInvalid(BlobStoreError):
    """The store refused to assemble or accept the uploaded bytes: a part is missing or has
    another ETag, a part other than the last is smaller than 5 MiB, or a streamed body did
    not have the announced size."""

    code = "upload_invalid"
    status = 422

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or _("The uploaded content is incomplete or invalid."), **kwargs)


class BlobRangeNotSatisfiable(BlobStoreError):
    """The requested byte range starts beyond the end of the blob."""

    code = "range_not_satisfiable"
    status = 416

    def __init__(self, message: str | None = None, **kwargs: Any):
        super().__init__(message or _("The requested range is not satisfiable."), **kwargs)
