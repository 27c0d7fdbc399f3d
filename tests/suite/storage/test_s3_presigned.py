"""Presigned requests, used by a real HTTP client (requests) against a real SeaweedFS."""

from __future__ import annotations

import hashlib
import time
from email.message import Message
from email.utils import collapse_rfc2231_value
from urllib.parse import urlsplit

import pytest
import requests


def filenames_of(header: str) -> tuple[str, str | None, str | None]:
    """(disposition type, filename, filename*) as an RFC 2231 parser reads them."""
    message = Message()
    message["Content-Disposition"] = header
    params = message.get_params(header="content-disposition")
    fallback = extended = None
    for name, value in params[1:]:
        if name == "filename" and isinstance(value, tuple):
            extended = collapse_rfc2231_value(value)
        elif name == "filename":
            fallback = value
    return params[0][0], fallback, extended


def send(request, body, **headers):
    return requests.request(
        request.method, request.url, data=body, headers={**request.headers, **headers}, timeout=10
    )


def test_presigned_put_of_the_announced_size_and_type_is_stored(store):
    key = store.new_key("drive")
    body = b"%PDF-1.7 fake"

    request = store.presigned_put(key, size=len(body), content_type="application/pdf")
    response = send(request, body)

    assert response.status_code == 200, response.text
    assert request.method == "PUT" and request.headers == {"Content-Type": "application/pdf"}
    info = store.head(key)
    assert (info.size, info.content_type) == (len(body), "application/pdf")


def test_presigned_put_refuses_another_content_type(store):
    key = store.new_key("drive")
    request = store.presigned_put(key, size=5, content_type="application/pdf")

    response = send(request, b"hello", **{"Content-Type": "text/html"})

    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text
    assert not store.exists(key)


@pytest.mark.parametrize("body", [b"hello world", b"hell", b""])
def test_presigned_put_refuses_another_size(store, body):
    """SeaweedFS checks the signed Content-Length: a longer or shorter body is refused."""
    key = store.new_key("drive")
    request = store.presigned_put(key, size=5, content_type="text/plain")

    response = send(request, body)

    assert response.status_code == 403
    assert not store.exists(key)


def test_presigned_put_refuses_a_chunked_body_that_hides_its_size(store):
    key = store.new_key("drive")
    request = store.presigned_put(key, size=5, content_type="text/plain")

    # A generator body makes requests send Transfer-Encoding: chunked, without Content-Length.
    response = send(request, iter([b"hello", b" world"]))

    assert response.status_code == 403
    assert not store.exists(key)


def test_presigned_put_with_a_checksum_refuses_other_bytes_of_the_same_size(store):
    key = store.new_key("drive")
    body = b"hello"
    request = store.presigned_put(
        key, size=5, content_type="text/plain", checksum_sha256=hashlib.sha256(body).hexdigest()
    )

    refused = send(request, b"HELLO")
    accepted = send(request, body)

    assert refused.status_code == 400 and "BadDigest" in refused.text
    assert accepted.status_code == 200
    assert store.open(key).read() == body


def test_presigned_put_validates_its_arguments(store):
    key = store.new_key("drive")

    with pytest.raises(ValueError, match="checksum"):
        store.presigned_put(key, size=5, content_type="text/plain", checksum_sha256="abc")
    with pytest.raises(ValueError, match="content type"):
        store.presigned_put(key, size=5, content_type="text/plain\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="size"):
        store.presigned_put(key, size=6 * 1024**3, content_type="text/plain")
    with pytest.raises(ValueError, match="expires_in"):
        store.presigned_put(key, size=5, content_type="text/plain", expires_in=8 * 24 * 3600)


def test_presigned_put_expires(store):
    key = store.new_key("drive")
    request = store.presigned_put(key, size=5, content_type="text/plain", expires_in=1)

    time.sleep(1.1)  # X-Amz-Date is truncated to the second
    response = send(request, b"hello")

    assert response.status_code == 403
    assert not store.exists(key)


def test_presigned_urls_are_signed_for_the_public_endpoint(make_store, s3_engine):
    internal = s3_engine["S3_ENDPOINT_URL"]
    public = internal.replace("127.0.0.1", "localhost")
    store = make_store(public_endpoint_url=public)
    key = store.new_key("drive")

    request = store.presigned_put(key, size=5, content_type="text/plain")
    response = send(request, b"hello")

    assert urlsplit(request.url).netloc == urlsplit(public).netloc
    assert response.status_code == 200
    assert store.presign_client is not store.client
    # The signature covers the host: the same URL sent to the internal name is refused.
    rewritten = request.url.replace(urlsplit(public).netloc, urlsplit(internal).netloc)
    assert requests.put(rewritten, data=b"hello", headers=request.headers, timeout=10).status_code == 403


def test_presigned_get_names_a_utf8_file_for_the_browser(store):
    key = store.new_key("drive")
    store.put(key, b"%PDF-1.7", content_type="application/octet-stream")

    request = store.presigned_get(
        key, filename="Compte rendu été 2026 — final.pdf", content_type="application/pdf"
    )
    response = requests.get(request.url, timeout=10)

    assert response.status_code == 200
    assert response.content == b"%PDF-1.7"
    assert response.headers["Content-Type"] == "application/pdf"
    assert filenames_of(response.headers["Content-Disposition"]) == (
        "attachment",
        "Compte rendu ete 2026 _ final.pdf",
        "Compte rendu été 2026 — final.pdf",
    )


def test_presigned_get_neutralises_a_hostile_filename(store):
    key = store.new_key("drive")
    store.put(key, b"data")

    request = store.presigned_get(key, filename='evil"\r\nX-Injected: yes\r\n\r\n<script>.html')
    response = requests.get(request.url, timeout=10)

    assert response.status_code == 200
    assert "X-Injected" not in response.headers
    disposition, fallback, extended = filenames_of(response.headers["Content-Disposition"])
    assert disposition == "attachment"
    assert extended == 'evil"__X-Injected: yes____<script>.html'
    assert '"' not in fallback and "\r" not in fallback and "\n" not in fallback


def test_presigned_get_inline_only_for_types_that_cannot_run_script(store):
    key = store.new_key("drive")
    store.put(key, b"<html><script>alert(1)</script></html>")

    pdf = requests.get(
        store.presigned_get(key, filename="a.pdf", content_type="application/pdf", inline=True).url,
        timeout=10,
    )
    html = requests.get(
        store.presigned_get(key, filename="a.html", content_type="text/html", inline=True).url,
        timeout=10,
    )

    assert filenames_of(pdf.headers["Content-Disposition"])[0] == "inline"
    assert filenames_of(html.headers["Content-Disposition"])[0] == "attachment"


def test_presigned_get_of_a_missing_blob_is_a_404_from_the_store(store):
    request = store.presigned_get(store.new_key("drive"), filename="x.txt")

    assert requests.get(request.url, timeout=10).status_code == 404
