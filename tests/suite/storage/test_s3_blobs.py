"""Whole-blob operations of the S3 store against a real SeaweedFS."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tracemalloc

import pytest

from suite.errors import suite_error_response
from suite.storage import (
    BlobNotFound,
    BlobRangeNotSatisfiable,
    BlobReader,
    BlobUploadInvalid,
)

MiB = 1024 * 1024


def chunks_of(data: bytes, size: int = 100_000):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_bytes_then_open_returns_the_same_bytes_and_info(store):
    key = store.new_key("drive")

    info = store.put(key, b"hello world", content_type="text/plain", metadata={"origin": "test"})

    assert (info.key, info.size, info.content_type, info.metadata) == (key, 11, "text/plain", {"origin": "test"})
    assert info.etag == hashlib.md5(b"hello world").hexdigest()  # noqa: S324 -- S3's ETag
    with store.open(key) as reader:
        assert reader.read() == b"hello world"
        # put() answers from the write itself (no HEAD after it): everything but the date
        # is exact; the date is the store's answer's, at most a second off its Last-Modified.
        assert dataclasses.replace(reader.info, last_modified=info.last_modified) == info
        assert abs((reader.info.last_modified - info.last_modified).total_seconds()) <= 1
        assert (reader.content_length, reader.range) == (11, None)


def test_put_streams_a_multi_megabyte_generator_in_parts(store):
    data = os.urandom(21 * MiB + 123)
    key = store.new_key("drive")

    info = store.put(key, chunks_of(data), size=len(data), content_type="application/octet-stream")

    assert info.size == len(data)
    assert info.etag.endswith("-3")  # three 8 MiB parts: a multipart upload
    with store.open(key) as reader:
        digest = hashlib.sha256()
        for chunk in reader:
            assert len(chunk) <= BlobReader.chunk_size
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert reader.closed


def test_put_of_a_stream_keeps_memory_bounded(make_store):
    """48 MiB through put() without holding the body: the peak stays near
    (concurrency + 1) parts, not the body size."""
    store = make_store()
    store.upload_part_size = 5 * MiB
    store.upload_concurrency = 2
    total = 48 * MiB
    block = os.urandom(MiB)

    def generate():
        for _ in range(total // MiB):
            yield block

    key = store.new_key("drive")
    tracemalloc.start()
    try:
        info = store.put(key, generate(), size=total)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert info.size == total
    assert peak < 30 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_put_from_a_file_object_of_unknown_size(store):
    data = os.urandom(9 * MiB)
    key = store.new_key("drive")

    info = store.put(key, io.BytesIO(data), content_type="application/zip")

    assert (info.size, info.content_type) == (len(data), "application/zip")


@pytest.mark.parametrize("announced", [5 * MiB - 1, 5 * MiB + 1, 9 * MiB])
def test_put_refuses_a_stream_of_another_size_and_stores_nothing(store, announced):
    data = os.urandom(5 * MiB)
    key = store.new_key("drive")

    with pytest.raises(BlobUploadInvalid) as raised:
        store.put(key, chunks_of(data), size=announced)

    assert raised.value.details["reason"] == "size_mismatch"
    assert not store.exists(key)
    assert store.multipart_list_uploads(key) == []


def test_put_refuses_bytes_of_another_size(store):
    key = store.new_key("drive")

    with pytest.raises(BlobUploadInvalid):
        store.put(key, b"abc", size=4)

    assert not store.exists(key)


def test_open_a_range_returns_those_bytes_and_the_total_size(store):
    data = os.urandom(3 * MiB)
    key = store.new_key("drive")
    store.put(key, data)

    with store.open(key, range=(MiB, MiB + 9)) as reader:
        assert reader.read() == data[MiB : MiB + 10]
        assert (reader.content_length, reader.range, reader.info.size) == (10, (MiB, MiB + 9), len(data))
    with store.open(key, range=(len(data) - 5, None)) as reader:
        assert reader.read() == data[-5:]
    with store.open(key, range=(len(data) - 5, len(data) + 100)) as reader:
        assert reader.read() == data[-5:]


def test_open_a_range_past_the_end_is_not_satisfiable(store):
    key = store.new_key("drive")
    store.put(key, b"0123456789")

    with pytest.raises(BlobRangeNotSatisfiable):
        store.open(key, range=(10, None))


def test_open_rejects_an_inverted_range(store):
    key = store.new_key("drive")
    store.put(key, b"0123456789")

    with pytest.raises(ValueError, match="range"):
        store.open(key, range=(5, 2))


def test_open_and_head_of_a_missing_key_raise_blob_not_found(store):
    key = store.new_key("drive")

    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(BlobNotFound):
        store.head(key)
    assert store.exists(key) is False


def test_blob_not_found_becomes_a_uniform_404(store):
    with pytest.raises(BlobNotFound) as raised:
        store.head(store.new_key("drive"))

    response = suite_error_response(raised.value)

    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "blob_not_found"


def test_methods_refuse_malformed_keys_before_any_request(store):
    for call in (
        lambda: store.head("../etc/passwd"),
        lambda: store.put("drive/a b", b"x"),
        lambda: store.delete("/drive/x"),
        lambda: store.presigned_get("drive/x\r\n", filename="a"),
    ):
        with pytest.raises(ValueError, match="key"):
            call()


def test_delete_removes_the_blob_and_is_idempotent(store):
    key = store.new_key("drive")
    store.put(key, b"x")

    store.delete(key)
    store.delete(key)

    assert store.exists(key) is False


def test_delete_many_removes_every_key_including_missing_ones(store):
    keys = [store.new_key("drive") for _ in range(3)]
    for key in keys[:2]:
        store.put(key, b"x")
    kept = store.new_key("drive")
    store.put(kept, b"kept")

    store.delete_many(keys)

    assert [store.exists(key) for key in keys] == [False, False, False]
    assert store.exists(kept)


def test_copy_keeps_bytes_content_type_and_metadata(store):
    source = store.new_key("drive")
    store.put(source, b"version 1", content_type="text/markdown", metadata={"sha256": "ab" * 32})
    destination = store.new_key("drive")

    info = store.copy(source, destination)

    assert (info.key, info.size, info.content_type, info.metadata) == (
        destination, 9, "text/markdown", {"sha256": "ab" * 32},
    )
    assert store.open(destination).read() == b"version 1"
    assert store.exists(source)


def test_copy_above_the_threshold_copies_part_by_part(make_store):
    store = make_store(copy_multipart_threshold=5 * MiB, copy_part_size=5 * MiB)
    data = os.urandom(11 * MiB)
    source = store.new_key("drive")
    store.put(source, data, content_type="video/mp4", metadata={"origin": "camera"})
    destination = store.new_key("drive")

    info = store.copy(source, destination)

    assert info.etag.endswith("-3")  # 5 + 5 + 1 MiB: a multipart copy
    assert (info.size, info.content_type, info.metadata) == (len(data), "video/mp4", {"origin": "camera"})
    assert hashlib.sha256(store.open(destination).read()).digest() == hashlib.sha256(data).digest()
    assert store.multipart_list_uploads(destination) == []


def test_copy_of_a_missing_source_raises_blob_not_found(store):
    destination = store.new_key("drive")

    with pytest.raises(BlobNotFound):
        store.copy(store.new_key("drive"), destination)

    assert not store.exists(destination)
