from __future__ import annotations

import pytest

from suite.storage import get_blob_store
from suite.storage.s3 import S3BlobStore


@pytest.fixture
def store(s3_settings):
    """The process's blob store, configured for the session's SeaweedFS."""
    return get_blob_store()


@pytest.fixture
def make_store(s3_engine):
    """``make_store(**overrides)``: an S3BlobStore on the session's SeaweedFS, built directly
    (not the process's shared one) so a test can change one parameter."""

    def make(**overrides):
        options = {
            "bucket": s3_engine["S3_BUCKET"],
            "endpoint_url": s3_engine["S3_ENDPOINT_URL"],
            "access_key_id": s3_engine["S3_ACCESS_KEY_ID"],
            "secret_access_key": s3_engine["S3_SECRET_ACCESS_KEY"],
        }
        options.update(overrides)
        return S3BlobStore(**options)

    return make
