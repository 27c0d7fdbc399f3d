"""Multipart uploads of the S3 blob store: create, presigned part URLs, list the parts
already uploaded (resumable uploads), complete, abort, and list incomplete uploads (cleanup).

A mixin of :class:`suite.storage.s3.store.S3BlobStore`, which provides ``client``,
``bucket``, ``head`` and ``_presign``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from suite.storage.base import (
    MULTIPART_MAX_PART_SIZE,
    MULTIPART_MAX_PARTS,
    BlobInfo,
    MultipartUpload,
    PresignedRequest,
    UploadedPart,
)
from suite.storage.errors import BlobUploadInvalid, BlobUploadNotFound
from suite.storage.s3.client import translate_errors
from suite.storage.validation import (
    validate_content_type,
    validate_key,
    validate_metadata,
    validate_prefix,
    validate_upload_id,
)


def quoted_etag(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


class S3MultipartMixin:
    client: Any
    bucket: str

    def head(self, key: str) -> BlobInfo:  # provided by the store
        raise NotImplementedError

    def _presign(self, *args: Any, **kwargs: Any) -> PresignedRequest:  # provided by the store
        raise NotImplementedError

    # --- multipart uploads ---------------------------------------------------------------------

    def multipart_create(
        self, key: str, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> str:
        validate_key(key)
        validate_content_type(content_type)
        with translate_errors("multipart_create", key):
            response = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type,
                Metadata=validate_metadata(metadata),
            )
        return response["UploadId"]

    def multipart_part_url(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int | None = None,
        expires_in: int | None = None,
    ) -> PresignedRequest:
        validate_key(key)
        validate_upload_id(upload_id)
        if not 1 <= part_number <= MULTIPART_MAX_PARTS:
            raise ValueError(f"part_number must be between 1 and 10000, not {part_number}")
        params: dict[str, Any] = {
            "Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number,
        }
        if size is not None:
            if not 0 < size <= MULTIPART_MAX_PART_SIZE:
                raise ValueError(f"a part holds 1 byte to 5 GiB, not {size}")
            params["ContentLength"] = size
        return self._presign("upload_part", params, method="PUT", headers={}, expires_in=expires_in)

    def multipart_list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        validate_upload_id(upload_id)
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            with translate_errors("multipart_list_parts", key):
                response = self.client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            parts.extend(
                UploadedPart(number=part["PartNumber"], etag=part["ETag"].strip('"'), size=part["Size"])
                for part in response.get("Parts", [])
            )
            if not response.get("IsTruncated"):
                break
            marker = int(response["NextPartNumberMarker"])
        return sorted(parts, key=lambda part: part.number)

    def multipart_complete(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart] | None = None
    ) -> BlobInfo:
        validate_key(key)
        validate_upload_id(upload_id)
        if parts is None:
            parts = self.multipart_list_parts(key, upload_id)
        if not parts:
            raise BlobUploadInvalid(reason="no_parts")
        ordered = sorted(parts, key=lambda part: part.number)
        with translate_errors("multipart_complete", key):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": quoted_etag(p.etag)} for p in ordered]
                },
            )
        return self.head(key)

    def multipart_abort(self, key: str, upload_id: str) -> None:
        validate_key(key)
        validate_upload_id(upload_id)
        with contextlib.suppress(BlobUploadNotFound), translate_errors("multipart_abort", key):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def multipart_list_uploads(
        self, prefix: str = "", *, older_than: dt.timedelta | None = None
    ) -> list[MultipartUpload]:
        validate_prefix(prefix)
        cutoff = timezone.now() - older_than if older_than is not None else None
        uploads: list[MultipartUpload] = []
        markers: dict[str, str] = {}
        while True:
            with translate_errors("multipart_list_uploads"):
                response = self.client.list_multipart_uploads(
                    Bucket=self.bucket, Prefix=prefix, **markers
                )
            for upload in response.get("Uploads", []):
                if cutoff is None or upload["Initiated"] < cutoff:
                    uploads.append(
                        MultipartUpload(
                            key=upload["Key"], upload_id=upload["UploadId"],
                            initiated=upload["Initiated"],
                        )
                    )
            if not response.get("IsTruncated"):
                break
            markers = {
                "KeyMarker": response["NextKeyMarker"],
                "UploadIdMarker": response["NextUploadIdMarker"],
            }
        return uploads
