"""The boto3 client the S3 store uses, and the translation of its errors into ours."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from suite.errors import SuiteError
from suite.storage.errors import (
    BlobNotFound,
    BlobRangeNotSatisfiable,
    BlobStoreError,
    BlobUploadInvalid,
    BlobUploadNotFound,
)

logger = logging.getLogger("suite.storage.s3")

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
UPLOAD_INVALID_CODES = {
    "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge", "BadDigest",
    "IncompleteBody", "InvalidDigest", "MalformedXML", "InvalidRequest",
}


def make_client(
    *,
    endpoint_url: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    region: str,
    addressing_style: str,
    max_pool_connections: int,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
) -> Any:
    """A boto3 S3 client configured for S3-compatible servers (thread-safe; keep it)."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        # "standard" retries throttling, 5xx and connection errors with backoff, and never
        # retries a 4xx such as AccessDenied.
        retries={"mode": "standard", "max_attempts": max_attempts},
        # Shared by the request threads, Celery threads and put()'s part uploads.
        max_pool_connections=max_pool_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
        # botocore >= 1.36 adds CRC checksums (and aws-chunked bodies) to every upload and
        # validates them on download by default; several S3-compatible servers (older
        # SeaweedFS, MinIO, Ceph RGW, rclone) reject or mishandle them. Only the operations
        # that require a checksum get one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A Session of its own, not boto3.client(): the default session is shared global state
    # and creating clients from it is not thread-safe.
    session = boto3.session.Session(
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        region_name=region,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


@contextlib.contextmanager
def translate_errors(operation: str, key: str | None = None) -> Iterator[None]:
    """Turn boto3 failures into :mod:`suite.storage.errors`; let ours through."""
    try:
        yield
    except SuiteError:
        raise
    except ClientError as exc:
        raise error_from_client_error(exc, operation, key) from exc
    except ParamValidationError as exc:
        raise ValueError(str(exc)) from exc
    except (BotoCoreError, S3UploadFailedError) as exc:
        logger.warning("blob store: %s %s failed: %s", operation, key or "", exc)
        raise BlobStoreError(reason="unreachable") from exc


def error_from_client_error(exc: ClientError, operation: str, key: str | None) -> SuiteError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code == "NoSuchUpload":
        return BlobUploadNotFound(reason=code)
    if code in NOT_FOUND_CODES:
        return BlobNotFound(reason=code)
    if code == "InvalidRange":
        return BlobRangeNotSatisfiable(reason=code)
    if code in UPLOAD_INVALID_CODES:
        return BlobUploadInvalid(reason=code)
    logger.warning("blob store: %s %s refused: %s", operation, key or "", exc)
    return BlobStoreError(reason=code or "error")
