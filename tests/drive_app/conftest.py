"""Drive tests run on real SeaweedFS (session engine) and PostgreSQL; uploads use the
presigned URLs exactly as a browser would (plain HTTP PUT with the signed headers)."""

from __future__ import annotations

import hashlib

import pytest
import requests

API = "/api/v1/drive"


@pytest.fixture(autouse=True)
def _drive_storage(s3_settings):
    """Every drive test talks to the session's SeaweedFS."""
    return s3_settings


def put_bytes(upload: dict, data: bytes) -> requests.Response:
    """PUT ``data`` to a presigned upload (``item["upload"]`` or a part URL) as a browser would."""
    return requests.request(upload["method"], upload["url"], data=data, headers=upload["headers"], timeout=30)


def upload_file(api, user, title, data: bytes, parent=None, **extra):
    """Create a file item, PUT its bytes, end the upload: returns the final response."""
    payload = {"type": "file", "title": title, "parent": parent, "size": len(data), **extra}
    created = api(user).post(f"{API}/items/", json=payload)
    assert created.status_code == 201, created.content
    item = created.json()
    response = put_bytes(item["upload"], data)
    assert response.status_code == 200, response.text
    return api(user).post(f"{API}/items/{item['id']}/upload-ended/", json={})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
