"""get_blob_store(): one store (one S3 client) per process; check() for /readyz."""

from __future__ import annotations

import json
import threading

import pytest

from suite.errors import suite_error_response
from suite.storage import BlobStoreError, get_blob_store
from suite.storage.s3 import S3BlobStore


def test_get_blob_store_returns_the_same_instance_and_client(s3_settings):
    first = get_blob_store()
    second = get_blob_store()

    assert isinstance(first, S3BlobStore)
    assert first is second
    assert first.client is second.client
    assert first.presign_client is first.client  # same public and internal endpoint


def test_get_blob_store_builds_a_new_store_when_settings_change(s3_settings):
    first = get_blob_store()

    s3_settings.S3_PRESIGN_TTL = 60
    changed = get_blob_store()

    assert changed is not first
    assert changed.presign_ttl == 60
    assert get_blob_store() is changed


def test_get_blob_store_is_one_instance_under_concurrent_first_calls(s3_settings):
    s3_settings.S3_REGION = "eu-west-3"  # a configuration no store was built for yet
    stores = []
    barrier = threading.Barrier(8)

    def call():
        barrier.wait()
        stores.append(get_blob_store())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(stores) == 8
    assert len({id(store) for store in stores}) == 1


class SmallCopyPartsS3BlobStore(S3BlobStore):
    """A backend configured by subclassing, as a deployment would plug in its own."""

    copy_part_size = 64 * 1024 * 1024


def test_get_blob_store_uses_the_configured_backend(s3_settings):
    s3_settings.STORAGE_BACKEND = f"{__name__}.SmallCopyPartsS3BlobStore"

    store = get_blob_store()

    assert type(store) is SmallCopyPartsS3BlobStore
    store.check()


def test_check_passes_on_a_reachable_bucket_with_good_credentials(store):
    store.check()


def test_check_fails_clearly_with_wrong_credentials(make_store):
    store = make_store(secret_access_key="wrong-secret")

    with pytest.raises(BlobStoreError) as raised:
        store.check()

    assert raised.value.reason == "access_denied"
    assert "S3_SECRET_ACCESS_KEY" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)


def test_check_fails_clearly_on_a_missing_bucket(make_store):
    with pytest.raises(BlobStoreError) as raised:
        make_store(bucket="no-such-bucket-here").check()

    assert raised.value.reason == "no_such_bucket"
    assert "no-such-bucket-here" in str(raised.value)


def test_check_fails_clearly_on_an_unreachable_endpoint(make_store):
    from suite.embedded.engines import free_port

    store = make_store(endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=1)

    with pytest.raises(BlobStoreError) as raised:
        store.check()

    assert raised.value.reason == "unreachable"
    assert "unreachable" in str(raised.value)


def test_operations_with_wrong_credentials_are_a_uniform_503(make_store):
    store = make_store(secret_access_key="wrong-secret")

    with pytest.raises(BlobStoreError) as raised:
        store.put(store.new_key("drive"), b"x")

    response = suite_error_response(raised.value)
    assert response.status_code == 503
    body = json.loads(response.content)["error"]
    assert body["code"] == "storage_unavailable"
    assert body["details"] == {"reason": "SignatureDoesNotMatch"}
