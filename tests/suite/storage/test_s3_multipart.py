"""Multipart uploads through presigned part URLs, uploaded with requests, against SeaweedFS."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
import requests

from suite.storage import BlobNotFound, BlobUploadInvalid, BlobUploadNotFound, UploadedPart

MiB = 1024 * 1024


def upload_part(store, key, upload_id, number, body, *, size=None):
    request = store.multipart_part_url(key, upload_id, number, size=size)
    response = requests.put(request.url, data=body, headers=request.headers, timeout=30)
    return response


@pytest.fixture
def parts():
    """Three parts: two of 5 MiB (S3's minimum for all but the last) and a last of 2 MiB."""
    return [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(2 * MiB)]


def test_multipart_upload_resumes_from_listed_parts_and_completes(store, parts):
    # given an upload whose client sent two parts, then lost its connection
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="video/mp4", metadata={"origin": "test"})
    etags = {}
    for number, body in enumerate(parts[:2], start=1):
        response = upload_part(store, key, upload_id, number, body, size=len(body))
        assert response.status_code == 200, response.text
        etags[number] = response.headers["ETag"].strip('"')
    assert not store.exists(key)

    # when it comes back, asks what the store has, and sends only the missing part
    listed = store.multipart_list_parts(key, upload_id)
    assert listed == [
        UploadedPart(number=1, etag=etags[1], size=5 * MiB),
        UploadedPart(number=2, etag=etags[2], size=5 * MiB),
    ]
    missing = [n for n in range(1, len(parts) + 1) if n not in {part.number for part in listed}]
    assert missing == [3]
    assert upload_part(store, key, upload_id, 3, parts[2]).status_code == 200
    info = store.multipart_complete(key, upload_id)

    # then the blob is the concatenation, with the type and metadata given at creation
    data = b"".join(parts)
    assert (info.size, info.content_type, info.metadata) == (len(data), "video/mp4", {"origin": "test"})
    assert info.etag.endswith("-3")
    assert hashlib.sha256(store.open(key).read()).digest() == hashlib.sha256(data).digest()
    assert upload_id not in {upload.upload_id for upload in store.multipart_list_uploads("drive/")}


def test_multipart_complete_with_the_parts_the_client_reports(store, parts):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")
    reported = []
    for number, body in reversed(list(enumerate(parts, start=1))):  # any order
        response = upload_part(store, key, upload_id, number, body)
        reported.append(UploadedPart(number=number, etag=response.headers["ETag"], size=len(body)))

    info = store.multipart_complete(key, upload_id, reported)

    assert info.size == sum(len(body) for body in parts)


def test_multipart_part_url_with_a_size_refuses_another_size(store, parts):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")

    response = upload_part(store, key, upload_id, 1, parts[0] + b"x", size=len(parts[0]))

    assert response.status_code == 403
    assert store.multipart_list_parts(key, upload_id) == []
    store.multipart_abort(key, upload_id)


def test_multipart_complete_refuses_a_wrong_etag(store, parts):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")
    upload_part(store, key, upload_id, 1, parts[2])

    with pytest.raises(BlobUploadInvalid) as raised:
        store.multipart_complete(key, upload_id, [UploadedPart(number=1, etag="0" * 32, size=2 * MiB)])

    assert raised.value.details["reason"] == "InvalidPart"
    assert not store.exists(key)
    store.multipart_abort(key, upload_id)


def test_multipart_complete_refuses_parts_under_five_mebibytes(store):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")
    upload_part(store, key, upload_id, 1, b"a" * 1000)
    upload_part(store, key, upload_id, 2, b"b" * 1000)

    with pytest.raises(BlobUploadInvalid) as raised:
        store.multipart_complete(key, upload_id)

    assert raised.value.details["reason"] == "EntityTooSmall"
    assert raised.value.status == 422
    store.multipart_abort(key, upload_id)


def test_multipart_complete_without_parts_is_invalid(store):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")

    with pytest.raises(BlobUploadInvalid):
        store.multipart_complete(key, upload_id)

    store.multipart_abort(key, upload_id)


def test_multipart_abort_discards_the_upload_and_is_idempotent(store, parts):
    key = store.new_key("drive")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")
    upload_part(store, key, upload_id, 1, parts[0])

    store.multipart_abort(key, upload_id)
    store.multipart_abort(key, upload_id)

    with pytest.raises(BlobNotFound):
        store.head(key)
    with pytest.raises(BlobUploadNotFound):
        store.multipart_list_parts(key, upload_id)
    with pytest.raises(BlobUploadNotFound):
        store.multipart_complete(key, upload_id, [UploadedPart(number=1, etag="x", size=1)])
    assert upload_id not in {upload.upload_id for upload in store.multipart_list_uploads("drive/")}
    assert upload_part(store, key, upload_id, 2, b"late").status_code == 404


def test_multipart_list_uploads_filters_by_prefix_and_age(store):
    key = store.new_key("chat/attachments")
    upload_id = store.multipart_create(key, content_type="application/octet-stream")
    try:
        in_namespace = store.multipart_list_uploads("chat/attachments/")
        elsewhere = store.multipart_list_uploads("docs/")
        older_than_an_hour = store.multipart_list_uploads("chat/", older_than=dt.timedelta(hours=1))
        older_than_now = store.multipart_list_uploads("chat/", older_than=dt.timedelta(0))
    finally:
        store.multipart_abort(key, upload_id)

    found = [upload for upload in in_namespace if upload.upload_id == upload_id]
    assert len(found) == 1 and found[0].key == key
    assert abs(found[0].initiated - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert upload_id not in {upload.upload_id for upload in elsewhere}
    assert upload_id not in {upload.upload_id for upload in older_than_an_hour}
    assert upload_id in {upload.upload_id for upload in older_than_now}


def test_multipart_part_url_validates_its_arguments(store):
    key = store.new_key("drive")

    with pytest.raises(ValueError, match="part_number"):
        store.multipart_part_url(key, "upload", 0)
    with pytest.raises(ValueError, match="part_number"):
        store.multipart_part_url(key, "upload", 10_001)
    with pytest.raises(ValueError, match="upload id"):
        store.multipart_part_url(key, "a&x-amz-acl=public-read", 1)
