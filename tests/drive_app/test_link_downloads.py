"""Downloads through share links, on real S3 and PostgreSQL: the bytes pass through the
server (no presigned URL that could be fetched again), so a download limit, a revocation and
a password change hold from the next request; ranges, headers, counting, parallel requests,
and streaming under ASGI (the production handler) as under WSGI."""

from __future__ import annotations

import threading
import time
import warnings
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django.test import Client

from drive_app.api.links import public_router
from drive_app.models import FileVersion, ShareLink
from suite.storage import BlobReader, get_blob_store
from tests.asgi import asgi_get, body_chunks
from tests.conftest import assert_error
from tests.drive_app.conftest import API
from tests.drive_app.test_links import (
    LINKS,
    TEXT,
    access_of,
    create_link,
    folder,
    ready_file,
    streamed,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024


def download(client, token, access, item_id, query="", **headers):
    return client.get(f"{LINKS}/{token}/items/{item_id}/download/{query}", headers={"X-Link-Access": access,
                                                                                     **headers})


def count_of(link_id) -> int:
    return ShareLink.objects.get(pk=link_id).download_count


def assert_nothing_to_fetch_again(response, settings):
    """No URL in the answer that would give the bytes without going through the link."""
    assert "Location" not in response
    store = urlsplit(settings.S3_PUBLIC_ENDPOINT_URL).netloc
    assert not any(store in value for value in response.headers.values()), dict(response.headers)


# --- what one download gives ------------------------------------------------------------------------------


def test_limited_link_streams_the_file_and_stops_at_its_limit(api, client, settings):
    alice = UserFactory()
    item = ready_file(api, alice, "Compte rendu été.txt")
    created = create_link(api, alice, item["id"], max_downloads=1)
    token, access = created["token"], access_of(client, created["token"])

    response = download(client, token, access, item["id"])
    assert response.status_code == 200
    assert_nothing_to_fetch_again(response, settings)
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Length"] == str(len(TEXT))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Compte rendu ete.txt\"; filename*=UTF-8''Compte%20rendu%20%C3%A9t%C3%A9.txt")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Accept-Ranges"] == "none"
    assert streamed(response) == TEXT
    assert count_of(created["id"]) == 1

    assert_error(download(client, token, access, item["id"]), 410, "link_download_limit")
    assert count_of(created["id"]) == 1


def test_limited_link_ignores_ranges_and_counts_every_download(api, client):
    """A range served for free would let a visitor fetch the file in pieces past the limit."""
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], max_downloads=2)
    token, access = created["token"], access_of(client, created["token"])
    for expected in (1, 2):
        response = download(client, token, access, item["id"], Range="bytes=100-109")
        assert response.status_code == 200 and "Content-Range" not in response
        assert streamed(response) == TEXT
        assert count_of(created["id"]) == expected
    assert_error(download(client, token, access, item["id"], Range="bytes=100-"), 410, "link_download_limit")


def test_revocation_stops_downloads_at_the_next_request(api, client, settings):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"])
    token, access = created["token"], access_of(client, created["token"])
    first = download(client, token, access, item["id"])
    assert first.status_code == 200 and streamed(first) == TEXT
    assert_nothing_to_fetch_again(first, settings)

    assert api(alice).delete(f"{API}/items/{item['id']}/links/{created['id']}/").status_code == 204
    assert_error(download(client, token, access, item["id"]), 404, "link_not_found")
    assert count_of(created["id"]) == 1


def test_password_change_stops_downloads_at_the_next_request(api, client, settings):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], password="correct horse")
    token, access = created["token"], access_of(client, created["token"], "correct horse")
    first = download(client, token, access, item["id"])
    assert first.status_code == 200 and streamed(first) == TEXT
    assert_nothing_to_fetch_again(first, settings)

    url = f"{API}/items/{item['id']}/links/{created['id']}/"
    assert api(alice).patch(url, json={"password": "battery staple"}).status_code == 200
    assert_error(download(client, token, access, item["id"]), 401, "link_access_invalid")
    fresh = access_of(client, token, "battery staple")
    assert streamed(download(client, token, fresh, item["id"])) == TEXT


def test_a_download_the_store_cannot_serve_is_not_counted(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], max_downloads=1)
    token, access = created["token"], access_of(client, created["token"])
    get_blob_store().delete(FileVersion.objects.get(item_id=item["id"]).key)  # lost behind our back
    assert_error(download(client, token, access, item["id"]), 404, "blob_not_found")
    assert count_of(created["id"]) == 0


def test_inline_only_for_types_that_cannot_run_script(api, client):
    alice = UserFactory()
    shared = folder(api, alice, "Pages")
    text = ready_file(api, alice, "note.txt", parent=shared["id"])
    page = ready_file(api, alice, "page.html", data=b"<!doctype html><html><script>alert(1)</script></html>",
                      parent=shared["id"])
    token = create_link(api, alice, shared["id"])["token"]
    access = access_of(client, token)

    shown = download(client, token, access, text["id"], query="?inline=true")
    assert shown["Content-Disposition"] == 'inline; filename="note.txt"'
    assert shown["Content-Security-Policy"].startswith("sandbox")
    assert streamed(shown) == TEXT
    kept = download(client, token, access, page["id"], query="?inline=true")
    assert kept["Content-Disposition"] == 'attachment; filename="page.html"'
    assert kept["Content-Type"] == "text/html" and kept["X-Content-Type-Options"] == "nosniff"
    assert kept["Content-Security-Policy"].startswith("sandbox")
    streamed(kept)


# --- ranges (links without a limit) ----------------------------------------------------------------------


def test_unlimited_link_serves_ranges_counted_from_the_first_byte(api, client):
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"])
    token, access = created["token"], access_of(client, created["token"])
    size = len(TEXT)

    middle = download(client, token, access, item["id"], Range="bytes=10-19")
    assert middle.status_code == 206 and middle["Accept-Ranges"] == "bytes"
    assert middle["Content-Range"] == f"bytes 10-19/{size}" and middle["Content-Length"] == "10"
    assert streamed(middle) == TEXT[10:20]
    assert count_of(created["id"]) == 0  # resuming or seeking is not a new download
    suffix = download(client, token, access, item["id"], Range="bytes=-5")
    assert suffix["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}" and streamed(suffix) == TEXT[-5:]
    start = download(client, token, access, item["id"], Range="bytes=0-")
    assert start.status_code == 206 and streamed(start) == TEXT
    assert count_of(created["id"]) == 1

    # If-Range: the range only if the client holds this very version, else the whole file.
    etag = middle["ETag"]
    same = download(client, token, access, item["id"], Range="bytes=5-9", **{"If-Range": etag})
    assert same.status_code == 206 and streamed(same) == TEXT[5:10]
    other = download(client, token, access, item["id"], Range="bytes=5-9", **{"If-Range": '"older"'})
    assert other.status_code == 200 and streamed(other) == TEXT
    # Several ranges, or a malformed one: the whole file (RFC 9110 14.2).
    for header in ("bytes=0-1,5-6", "bytes=9-3", "lines=1-2"):
        whole = download(client, token, access, item["id"], Range=header)
        assert whole.status_code == 200 and streamed(whole) == TEXT, header
    past = download(client, token, access, item["id"], Range=f"bytes={size}-")
    assert_error(past, 416, "range_not_satisfiable")
    assert past["Content-Range"] == f"bytes */{size}"


# --- counting under concurrency ------------------------------------------------------------------------


def test_parallel_requests_for_the_last_download_give_the_file_once(api, client):
    """Both requests have checked the link and opened the file before either counts (the
    link's row is held meanwhile): the count decides, not what each request read before."""
    alice = UserFactory()
    item = ready_file(api, alice, "cr.txt")
    created = create_link(api, alice, item["id"], max_downloads=1)
    token, access = created["token"], access_of(client, created["token"])
    held, release = threading.Event(), threading.Event()
    results: list[tuple[int, bytes]] = []

    def hold_the_link() -> None:
        try:
            with transaction.atomic():
                ShareLink.objects.select_for_update().get(pk=created["id"])
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def visitor() -> None:
        try:
            response = download(Client(), token, access, item["id"])
            results.append((response.status_code, streamed(response) if response.streaming else b""))
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_link)
    holder.start()
    assert held.wait(10)
    visitors = [threading.Thread(target=visitor) for _ in range(2)]
    for thread in visitors:
        thread.start()
    deadline = time.monotonic() + 10
    while _waiting_on_locks() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _waiting_on_locks() == 2, "both downloads should be counting by now"
    release.set()
    for thread in (holder, *visitors):
        thread.join(10)
    assert sorted(status for status, _body in results) == [200, 410]
    assert [body for status, body in results if status == 200] == [TEXT]
    assert count_of(created["id"]) == 1


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


# --- streaming ---------------------------------------------------------------------------------------------


def test_download_streams_in_chunks_under_wsgi(api, client):
    alice = UserFactory()
    data = bytes(range(256)) * (MIB // 256)
    item = ready_file(api, alice, "data.bin", data=data)
    token = create_link(api, alice, item["id"])["token"]
    response = download(client, token, access_of(client, token), item["id"])
    assert response.status_code == 200 and response.streaming
    chunks = list(response.streaming_content)
    response.close()
    assert len(chunks) >= MIB // BlobReader.chunk_size and max(map(len, chunks)) <= BlobReader.chunk_size
    assert b"".join(chunks) == data


def test_download_streams_in_chunks_under_asgi(api, client):
    """Through Django's ASGI handler, as ``uvicorn suite.asgi`` serves it: a synchronous
    body would be read whole into a list first (Django warns when it does)."""
    alice = UserFactory()
    data = bytes(range(256)) * (MIB // 256)
    item = ready_file(api, alice, "data.bin", data=data)
    token = create_link(api, alice, item["id"])["token"]
    access = access_of(client, token)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = asgi_get(f"{LINKS}/{token}/items/{item['id']}/download/", {"x-link-access": access})
    assert not [w for w in caught if "iterators" in str(w.message)], [str(w.message) for w in caught]
    assert messages[0]["type"] == "http.response.start" and messages[0]["status"] == 200
    chunks = body_chunks(messages)
    assert len(chunks) >= MIB // BlobReader.chunk_size and max(map(len, chunks)) <= BlobReader.chunk_size
    assert b"".join(chunks) == data


# --- every path by which a visitor gets bytes ------------------------------------------------------------


def test_a_link_visitor_gets_bytes_only_through_the_counted_download():
    """No preview, version, thumbnail or ZIP route for link visitors: one added later must
    serve its bytes through ``link_download`` (counted, streamed), or this list must say why."""
    routes = {
        (method, path)
        for path, view in public_router.path_operations.items()
        for operation in view.operations
        for method in operation.methods
    }
    assert routes == {
        ("POST", "/{token}/"),
        ("GET", "/{token}/items/{item_id}/"),
        ("GET", "/{token}/items/{item_id}/children/"),
        ("GET", "/{token}/items/{item_id}/download/"),
        ("POST", "/{token}/items/"),
        ("POST", "/{token}/items/{item_id}/multipart/parts/"),
        ("POST", "/{token}/items/{item_id}/upload-ended/"),
    }
