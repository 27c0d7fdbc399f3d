"""The S3 blob store (boto3), for any S3-compatible service: SeaweedFS, MinIO, Ceph RGW,
Garage, Scaleway, OVHcloud, Outscale, AWS.

One instance per process (see :func:`suite.storage.get_blob_store`) holds two boto3
clients, created once: boto3 clients are thread-safe and keep a connection pool, whereas
creating one costs tens of milliseconds and a pool of its own. ``client`` talks to
``S3_ENDPOINT_URL`` (the address this server reaches); ``presign_client`` only signs URLs
for ``S3_PUBLIC_ENDPOINT_URL`` (the address browsers reach), because a SigV4 signature
covers the host and cannot be rewritten afterwards.

Verified against SeaweedFS 4.48: a presigned PUT refuses (403) a body of another length or
content type, or a ``Transfer-Encoding: chunked`` body; a signed SHA-256 refuses (400
``BadDigest``) another body; a presigned part URL with a signed size refuses another size;
completion refuses parts under 5 MiB (``EntityTooSmall``) and unknown ETags
(``InvalidPart``); part copies honour ``x-amz-copy-source-if-match``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import itertools
import logging
import math
import re
from collections.abc import Iterable
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from suite.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MULTIPART_MAX_PART_SIZE,
    MULTIPART_MAX_PARTS,
    PRESIGN_MAX_EXPIRES_IN,
    BlobInfo,
    BlobReader,
    BlobStore,
    ByteRange,
    PresignedRequest,
    PutSource,
    UploadedPart,
)
from suite.storage.disposition import content_disposition, inline_allowed
from suite.storage.errors import BlobStoreError
from suite.storage.s3.client import NOT_FOUND_CODES, make_client, translate_errors
from suite.storage.s3.multipart import S3MultipartMixin, quoted_etag
from suite.storage.streams import READ_CHUNK, ExactSizeReader, size_mismatch
from suite.storage.validation import (
    sha256_base64,
    validate_content_type,
    validate_key,
    validate_metadata,
)

logger = logging.getLogger("suite.storage.s3")

MiB = 1024 * 1024
GiB = 1024 * MiB

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class S3BlobStore(S3MultipartMixin, BlobStore):
    """:class:`~suite.storage.base.BlobStore` on S3 through boto3.

    Settings: ``S3_ENDPOINT_URL``, ``S3_PUBLIC_ENDPOINT_URL``, ``S3_ACCESS_KEY_ID``,
    ``S3_SECRET_ACCESS_KEY``, ``S3_BUCKET``, ``S3_REGION``, ``S3_ADDRESSING_STYLE``,
    ``S3_PRESIGN_TTL``. Without an endpoint, boto3 talks to AWS; without keys, it uses
    its default credential chain (environment, instance role).
    """

    #: put(): bodies up to this size go in one request, larger ones in parts of this size
    #: (grown for known sizes so that no upload needs more than 10,000 parts).
    upload_part_size = 8 * MiB
    #: put(): parts uploaded in parallel; memory stays under about
    #: (upload_concurrency + 1) * upload_part_size per streamed upload.
    upload_concurrency = 4
    #: copy(): objects above this size (S3's single-copy limit) are copied part by part.
    copy_multipart_threshold = 5 * GiB
    copy_part_size = 512 * MiB

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        addressing_style: str = "path",
        presign_ttl: int = 900,
        max_pool_connections: int = 32,
        connect_timeout: float = 5,
        read_timeout: float = 60,
        max_attempts: int = 3,
        copy_multipart_threshold: int | None = None,
        copy_part_size: int | None = None,
    ):
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.public_endpoint_url = public_endpoint_url or endpoint_url
        self.presign_ttl = presign_ttl
        if copy_multipart_threshold is not None:
            self.copy_multipart_threshold = copy_multipart_threshold
        if copy_part_size is not None:
            self.copy_part_size = copy_part_size
        options: dict[str, Any] = {
            "access_key_id": access_key_id,
            "secret_access_key": secret_access_key,
            "region": region,
            "addressing_style": addressing_style,
            "max_pool_connections": max_pool_connections,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_attempts": max_attempts,
        }
        self.client = make_client(endpoint_url=endpoint_url, **options)
        # Presigning makes no request; a second client is needed only to sign for another
        # host, and is created once too.
        if self.public_endpoint_url == endpoint_url:
            self.presign_client = self.client
        else:
            self.presign_client = make_client(endpoint_url=self.public_endpoint_url, **options)

    @classmethod
    def settings_fingerprint(cls) -> tuple[Any, ...]:
        return (
            settings.S3_ENDPOINT_URL,
            settings.S3_PUBLIC_ENDPOINT_URL,
            settings.S3_ACCESS_KEY_ID,
            settings.S3_SECRET_ACCESS_KEY,
            settings.S3_BUCKET,
            settings.S3_REGION,
            settings.S3_ADDRESSING_STYLE,
            settings.S3_PRESIGN_TTL,
        )

    @classmethod
    def from_settings(cls) -> S3BlobStore:
        return cls(
            bucket=settings.S3_BUCKET,
            endpoint_url=settings.S3_ENDPOINT_URL or None,
            public_endpoint_url=settings.S3_PUBLIC_ENDPOINT_URL or None,
            access_key_id=settings.S3_ACCESS_KEY_ID,
            secret_access_key=settings.S3_SECRET_ACCESS_KEY,
            region=settings.S3_REGION,
            addressing_style=settings.S3_ADDRESSING_STYLE,
            presign_ttl=settings.S3_PRESIGN_TTL,
        )

    def __repr__(self) -> str:
        return f"<S3BlobStore bucket={self.bucket!r} endpoint={self.endpoint_url!r}>"

    # --- whole blobs ---------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: PutSource,
        *,
        size: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
    ) -> BlobInfo:
        validate_key(key)
        validate_content_type(content_type)
        clean_metadata = validate_metadata(metadata)
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": clean_metadata}
        if size is not None and size < 0:
            raise ValueError("size must be >= 0")
        if isinstance(data, bytes | bytearray | memoryview):
            if size is not None and len(data) != size:
                raise size_mismatch(expected=size, received=len(data))
            with translate_errors("put", key):
                response = self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), **extra)
            return self._written(key, response, len(data), content_type, clean_metadata)
        body = ExactSizeReader(data, size)
        if size is None or size <= self.upload_part_size:
            # A body that fits in one part goes in one request: no transfer threads, and the
            # answer describes the blob (no HEAD after it).
            first = body.read(self.upload_part_size + 1)
            if len(first) <= self.upload_part_size:
                with translate_errors("put", key):
                    response = self.client.put_object(Bucket=self.bucket, Key=key, Body=first, **extra)
                return self._written(key, response, len(first), content_type, clean_metadata)
            rest = body
            body = ExactSizeReader(itertools.chain([first], iter(lambda: rest.read(READ_CHUNK), b"")), None)
        with translate_errors("put", key):
            self.client.upload_fileobj(
                body, self.bucket, key, ExtraArgs=extra, Config=self._transfer_config(size)
            )
        return self.head(key)

    def _written(
        self, key: str, response: dict[str, Any], size: int, content_type: str, metadata: dict[str, str]
    ) -> BlobInfo:
        """The info of a blob this store just wrote in one request, from its answer (its
        ``Date``, to the second, stands for ``Last-Modified``, which a PUT does not return)."""
        date = (response.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("date")
        try:
            written = email.utils.parsedate_to_datetime(date) if date else timezone.now()
        except (TypeError, ValueError):
            written = timezone.now()
        return BlobInfo(
            key=key, size=size, etag=response.get("ETag", "").strip('"'), content_type=content_type,
            last_modified=written, metadata=dict(metadata),
        )

    def _transfer_config(self, size: int | None) -> TransferConfig:
        part_size = self.upload_part_size
        if size is not None:
            part_size = max(part_size, math.ceil(size / MULTIPART_MAX_PARTS / MiB) * MiB)
        config = TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=self.upload_concurrency,
            use_threads=True,
            preferred_transfer_client="classic",
        )
        # A non-seekable stream is read part by part into memory; this bounds how many
        # parts may wait for an upload thread (s3transfer's default is 10).
        config.max_in_memory_upload_chunks = self.upload_concurrency + 1
        return config

    def open(self, key: str, *, range: ByteRange | None = None) -> BlobReader:
        validate_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if range is not None:
            start, end = range
            if start < 0 or (end is not None and end < start):
                raise ValueError(f"invalid byte range {range!r}")
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        with translate_errors("open", key):
            response = self.client.get_object(**params)
        served: tuple[int, int] | None = None
        total = response["ContentLength"]
        match = _CONTENT_RANGE.fullmatch(response.get("ContentRange") or "")
        if match:
            served = (int(match[1]), int(match[2]))
            if match[3] != "*":
                total = int(match[3])
        info = self._info(key, response, size=total)
        return BlobReader(
            info=info, body=response["Body"], content_length=response["ContentLength"], range=served
        )

    def head(self, key: str) -> BlobInfo:
        validate_key(key)
        with translate_errors("head", key):
            response = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        return self._info(key, response, size=response["ContentLength"])

    def delete(self, key: str) -> None:
        validate_key(key)
        with translate_errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        failed: list[dict[str, str]] = []
        for key in keys:
            batch.append(validate_key(key))
            if len(batch) == 1000:  # DeleteObjects' limit per request
                failed.extend(self._delete_batch(batch))
                batch = []
        if batch:
            failed.extend(self._delete_batch(batch))
        if failed:
            logger.warning("blob store: %d keys not deleted: %s", len(failed), failed[:10])
            raise BlobStoreError(
                _("Some files could not be deleted from the file storage."),
                reason=failed[0]["code"],
                details={"failed": failed},
            )

    def _delete_batch(self, keys: list[str]) -> list[dict[str, str]]:
        with translate_errors("delete_many"):
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
        return [
            {"key": error.get("Key", ""), "code": error.get("Code", "")}
            for error in response.get("Errors", [])
            if error.get("Code") not in NOT_FOUND_CODES
        ]

    def copy(self, source_key: str, destination_key: str) -> BlobInfo:
        validate_key(destination_key)
        source = self.head(source_key)
        if source.size <= self.copy_multipart_threshold:
            with translate_errors("copy", source_key):
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=destination_key,
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                    CopySourceIfMatch=quoted_etag(source.etag),
                    MetadataDirective="COPY",
                )
        else:
            self._multipart_copy(source, destination_key)
        return self.head(destination_key)

    def _multipart_copy(self, source: BlobInfo, destination_key: str) -> None:
        part_size = max(self.copy_part_size, math.ceil(source.size / MULTIPART_MAX_PARTS))
        upload_id = self.multipart_create(
            destination_key, content_type=source.content_type, metadata=source.metadata
        )
        try:
            parts = []
            for number, start in enumerate(range(0, source.size, part_size), start=1):
                end = min(start + part_size, source.size) - 1
                with translate_errors("copy", source.key):
                    response = self.client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=destination_key,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource={"Bucket": self.bucket, "Key": source.key},
                        CopySourceRange=f"bytes={start}-{end}",
                        # The source must not change between the parts.
                        CopySourceIfMatch=quoted_etag(source.etag),
                    )
                etag = response["CopyPartResult"]["ETag"]
                parts.append(UploadedPart(number=number, etag=etag.strip('"'), size=end - start + 1))
            self.multipart_complete(destination_key, upload_id, parts)
        except BaseException:
            with contextlib.suppress(BlobStoreError):
                self.multipart_abort(destination_key, upload_id)
            raise

    # --- presigned requests --------------------------------------------------------------------

    def presigned_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        checksum_sha256: str | None = None,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        validate_key(key)
        validate_content_type(content_type)
        if not 0 <= size <= MULTIPART_MAX_PART_SIZE:
            raise ValueError(f"size must be between 0 and 5 GiB for a single PUT, not {size}")
        params: dict[str, Any] = {
            "Bucket": self.bucket, "Key": key, "ContentLength": size, "ContentType": content_type,
        }
        headers = {"Content-Type": content_type}
        if checksum_sha256 is not None:
            params["ChecksumSHA256"] = headers["x-amz-checksum-sha256"] = sha256_base64(
                checksum_sha256
            )
        return self._presign("put_object", params, method="PUT", headers=headers, expires_in=expires_in)

    def presigned_get(
        self,
        key: str,
        *,
        filename: str,
        content_type: str | None = None,
        inline: bool = False,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        validate_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type is not None:
            params["ResponseContentType"] = validate_content_type(content_type)
        params["ResponseContentDisposition"] = content_disposition(
            filename, inline=inline and inline_allowed(content_type)
        )
        return self._presign("get_object", params, method="GET", headers={}, expires_in=expires_in)

    def _presign(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        method: str,
        headers: dict[str, str],
        expires_in: int | None,
    ) -> PresignedRequest:
        expires_in = self.presign_ttl if expires_in is None else expires_in
        if not 1 <= expires_in <= PRESIGN_MAX_EXPIRES_IN:
            raise ValueError(f"expires_in must be between 1 s and 7 days, not {expires_in}")
        issued_at = timezone.now()
        # Signing is local (no request), so the only failures are programming errors.
        url = self.presign_client.generate_presigned_url(
            operation, Params=params, ExpiresIn=expires_in, HttpMethod=method
        )
        return PresignedRequest(
            url=url, method=method, headers=headers,
            expires_at=issued_at + dt.timedelta(seconds=expires_in),
        )

    # --- operations ----------------------------------------------------------------------------

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status in (401, 403):
                message = _(
                    "S3 refused our credentials for bucket %(bucket)s (HTTP %(status)s): check "
                    "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY."
                )
                reason = "access_denied"
            elif status == 404:
                message = _("S3 bucket %(bucket)s does not exist: create it or fix S3_BUCKET.")
                reason = "no_such_bucket"
            else:
                message = _("S3 answered HTTP %(status)s (%(code)s) for bucket %(bucket)s.")
                reason = code or str(status)
            raise BlobStoreError(
                message % {"bucket": self.bucket, "status": status, "code": code}, reason=reason
            ) from exc
        except BotoCoreError as exc:
            raise BlobStoreError(
                _("S3 is unreachable at %(endpoint)s: %(error)s")
                % {"endpoint": self.endpoint_url or "AWS", "error": exc},
                reason="unreachable",
            ) from exc

    # --- internals -----------------------------------------------------------------------------

    def _info(self, key: str, response: dict[str, Any], *, size: int) -> BlobInfo:
        return BlobInfo(
            key=key,
            size=size,
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType") or DEFAULT_CONTENT_TYPE,
            last_modified=response["LastModified"],
            metadata=dict(response.get("Metadata") or {}),
            sha256=_full_object_sha256(response),
        )


def _full_object_sha256(response: dict[str, Any]) -> str:
    """The hex SHA-256 of the whole object from a response's ``ChecksumSHA256``, or "" (none,
    or a multipart object's checksum of part checksums, which ends in ``-<parts>``)."""
    value = response.get("ChecksumSHA256") or ""
    if not value or "-" in value or response.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return ""
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


