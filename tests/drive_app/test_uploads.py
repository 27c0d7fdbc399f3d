"""Large uploads (S3 multipart through presigned part URLs, resumable, abortable, cleaned up
when abandoned), parallel uploads against a quota, and the version lifecycle; real S3."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
import requests
from django.db import connection
from django.utils import timezone

from drive_app.models import DriveUsage, FileVersion, Item
from drive_app.services.uploads import clean_incomplete_uploads, part_size_for
from suite.storage import BlobNotFound, get_blob_store
from tests.conftest import assert_error
from tests.drive_app.conftest import API, put_bytes, sha256, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 1024 * 1024


@pytest.fixture
def small_multipart(settings):
    """Files above 1 MiB go multipart, in 5 MiB parts (S3's minimum but for the last)."""
    settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES = MIB
    settings.DRIVE_MULTIPART_PART_BYTES = 5 * MIB
    return settings


def start_multipart(api, user, title, size, **extra):
    response = api(user).post(f"{API}/items/", json={"type": "file", "title": title, "size": size, **extra})
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["upload"] is None and item["multipart"] == {"part_size": 5 * MIB, "part_count": -(-size // (5 * MIB))}
    return item


def part_urls(api, user, item_id, numbers):
    response = api(user).post(f"{API}/items/{item_id}/multipart/parts/", json={"parts": numbers})
    assert response.status_code == 200, response.content
    return {entry["number"]: entry for entry in response.json()}


def test_multipart_upload_resumes_after_an_interrupted_part(api, small_multipart):
    alice = UserFactory()
    data = bytes(range(256)) * (12 * MIB // 256) + b"tail"  # 3 parts: 5 + 5 + 2 MiB + 4 bytes
    item = start_multipart(api, alice, "archive.bin", len(data), sha256=sha256(data))
    urls = part_urls(api, alice, item["id"], [1, 2, 3])
    assert put_bytes(urls[1], data[: 5 * MIB]).status_code == 200
    # Part 2 is interrupted: the client sends only half of it. The signed length refuses it
    # (or the store keeps nothing usable); the client then asks what S3 holds.
    with contextlib.suppress(requests.RequestException):
        requests.put(urls[2]["url"], data=data[5 * MIB : 7 * MIB], headers=urls[2]["headers"], timeout=30)
    held = api(alice).get(f"{API}/items/{item['id']}/multipart/").json()
    assert held["part_count"] == 3
    held_numbers = {p["number"] for p in held["parts"] if p["size"] == 5 * MIB}
    assert 1 in held_numbers and 2 not in held_numbers
    # Resume: only the parts not held, with fresh URLs.
    missing = [n for n in (1, 2, 3) if n not in held_numbers]
    fresh = part_urls(api, alice, item["id"], missing)
    for number in missing:
        chunk = data[(number - 1) * 5 * MIB : number * 5 * MIB]
        assert put_bytes(fresh[number], chunk).status_code == 200
    ended = api(alice).post(f"{API}/items/{item['id']}/upload-ended/", json={})
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert body["upload_state"] == "ready" and body["size"] == len(data) and body["sha256"] == sha256(data)
    fetched = requests.get(api(alice).get(f"{API}/items/{item['id']}/download/")["Location"], timeout=30)
    assert fetched.content == data


def test_multipart_bad_input_completion_and_abort(api, small_multipart):
    alice = UserFactory()
    size = 11 * MIB
    item = start_multipart(api, alice, "video.bin", size)
    for numbers in ([0], [4], [-1], []):
        response = api(alice).post(f"{API}/items/{item['id']}/multipart/parts/", json={"parts": numbers})
        assert response.status_code == 422, response.content
    assert_error(api(alice).post(f"{API}/items/{item['id']}/multipart/parts/", json={"parts": [4]}), 422,
                 "part_out_of_range")
    urls = part_urls(api, alice, item["id"], [1])
    assert put_bytes(urls[1], b"a" * 5 * MIB).status_code == 200
    # Completing with parts missing: refused, nothing charged, the upload can continue.
    assert_error(api(alice).post(f"{API}/items/{item['id']}/upload-ended/", json={}), 422, "upload_incomplete")
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 0
    assert api(alice).get(f"{API}/items/{item['id']}/multipart/").status_code == 200
    # A single-PUT item has no multipart to drive.
    single = api(alice).post(f"{API}/items/", json={"type": "file", "title": "s.txt", "size": 3}).json()
    assert_error(api(alice).get(f"{API}/items/{single['id']}/multipart/"), 409, "not_multipart")
    # Abort: the new file disappears with its parts.
    key = FileVersion.objects.get(item_id=item["id"]).key
    upload_id = FileVersion.objects.get(item_id=item["id"]).multipart_upload_id
    assert api(alice).delete(f"{API}/items/{item['id']}/multipart/").status_code == 204
    assert not Item.objects.filter(pk=item["id"]).exists()
    with pytest.raises(Exception):
        get_blob_store().multipart_list_parts(key, upload_id)


def test_abandoned_uploads_are_cleaned_up(api, small_multipart):
    alice = UserFactory()
    item = start_multipart(api, alice, "left.bin", 6 * MIB)
    urls = part_urls(api, alice, item["id"], [1])
    assert put_bytes(urls[1], b"b" * 5 * MIB).status_code == 200
    single = api(alice).post(f"{API}/items/", json={"type": "file", "title": "half.txt", "size": 4}).json()
    assert put_bytes(single["upload"], b"half").status_code == 200  # bytes sent, never ended
    version = FileVersion.objects.get(item_id=item["id"])
    single_key = FileVersion.objects.get(item_id=single["id"]).key
    assert clean_incomplete_uploads() == 0  # too recent
    cleaned = clean_incomplete_uploads(now=timezone.now() + dt.timedelta(hours=25))
    assert cleaned >= 2
    assert not Item.objects.filter(pk__in=[item["id"], single["id"]]).exists()
    with pytest.raises(BlobNotFound):
        get_blob_store().head(single_key)
    with pytest.raises(Exception):
        get_blob_store().multipart_list_parts(version.key, version.multipart_upload_id)


def test_part_size_grows_to_fit_10000_parts(settings):
    settings.DRIVE_MULTIPART_PART_BYTES = 16 * MIB
    assert part_size_for(100 * MIB) == 16 * MIB
    assert part_size_for(1024 * 1024 * MIB) == 105 * MIB  # 1 TiB / 10,000 rounded up to a MiB
    assert -(-(1024 * 1024 * MIB) // part_size_for(1024 * 1024 * MIB)) <= 10_000


def test_parallel_uploads_cannot_overshoot_the_quota(api, settings):
    settings.DRIVE_DEFAULT_QUOTA_BYTES = 1000
    alice = UserFactory()
    items = []
    for index in range(6):
        created = api(alice).post(f"{API}/items/", json={"type": "file", "title": f"f{index}.txt", "size": 300}).json()
        assert put_bytes(created["upload"], b"q" * 300).status_code == 200
        items.append(created)
    results: list[int] = []
    barrier = threading.Barrier(len(items))

    def end(item_id):
        try:
            barrier.wait()
            results.append(api(alice).post(f"{API}/items/{item_id}/upload-ended/", json={}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=end, args=(item["id"],)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 200, 200, 507, 507, 507]
    assert DriveUsage.objects.get(user=alice).used_bytes == 900
    assert FileVersion.objects.filter(item__quota_owner=alice, state="ready").count() == 3


def test_version_lifecycle_and_retention(api, settings):
    settings.DRIVE_VERSIONS_KEEP = 3
    alice = UserFactory()
    first = upload_file(api, alice, "plan.txt", b"v1").json()
    # Same title with on_conflict=version adds a version to the same item.
    for _number, content in ((2, b"v2"), (3, b"v3"), (4, b"v4")):
        again = upload_file(api, alice, "plan.txt", content, on_conflict="version")
        assert again.status_code == 200 and again.json()["id"] == first["id"]
    versions = api(alice).get(f"{API}/items/{first['id']}/versions/").json()["items"]
    assert [v["number"] for v in versions] == [4, 3, 2]  # retention kept the newest three
    assert versions[0]["current"] is True
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 6
    # Download an older version, restore it (as a new version), delete one.
    older = versions[2]
    location = api(alice).get(f"{API}/items/{first['id']}/versions/{older['id']}/download/")["Location"]
    assert requests.get(location, timeout=10).content == b"v2"
    restored = api(alice).post(f"{API}/items/{first['id']}/versions/{older['id']}/restore/")
    assert restored.status_code == 200 and restored.json()["sha256"] == sha256(b"v2")
    location = api(alice).get(f"{API}/items/{first['id']}/download/")["Location"]
    assert requests.get(location, timeout=10).content == b"v2"
    versions = api(alice).get(f"{API}/items/{first['id']}/versions/").json()["items"]
    assert [v["number"] for v in versions] == [5, 4, 3]
    assert_error(api(alice).delete(f"{API}/items/{first['id']}/versions/{versions[0]['id']}/"), 409, "current_version")
    doomed_key = FileVersion.objects.get(pk=versions[2]["id"]).key
    assert api(alice).delete(f"{API}/items/{first['id']}/versions/{versions[2]['id']}/").status_code == 204
    with pytest.raises(BlobNotFound):
        get_blob_store().head(doomed_key)
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 4
    # A reader sees versions but cannot change them.
    bob = UserFactory()
    from drive_app.models import ItemAccess

    ItemAccess.objects.create(resource_id=first["id"], user=bob, role=10)
    assert api(bob).get(f"{API}/items/{first['id']}/versions/").status_code == 200
    assert_error(api(bob).post(f"{API}/items/{first['id']}/versions/{versions[1]['id']}/restore/"), 403,
                 "permission_denied")
    assert_error(api(bob).post(f"{API}/items/{first['id']}/versions/", json={"size": 2}), 403, "permission_denied")


def test_file_write_streams_new_files_and_versions_through_the_same_checks(settings):
    """What WebDAV PUT and WOPI PutFile use: bytes through the server, streamed to S3."""
    import io

    from drive_app.services.items import workspace_for
    from drive_app.services.uploads import UploadRejected, file_write

    settings.DRIVE_DEFAULT_QUOTA_BYTES = 30
    alice = UserFactory()
    root = workspace_for(alice)
    item = file_write(actor=alice, parent_id=root.pk, title="a.txt", body=io.BytesIO(b"first"), size=5)
    assert item.upload_state == "ready" and item.size == 5
    again = file_write(actor=alice, parent_id=root.pk, title="a.txt", body=io.BytesIO(b"second!"))  # size unknown
    assert again.pk == item.pk and again.size == 7 and again.sha256 == sha256(b"second!")
    assert FileVersion.objects.filter(item=item).count() == 2
    from drive_app.quota import QuotaExceeded

    with pytest.raises(QuotaExceeded):
        file_write(actor=alice, item_id=item.pk, body=io.BytesIO(b"x" * 20))  # 12 + 20 > 30
    settings.DRIVE_DEFAULT_QUOTA_BYTES = 1000
    with pytest.raises(UploadRejected) as rejected:
        file_write(actor=alice, item_id=item.pk, body=io.BytesIO(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00"))
    assert rejected.value.code == "type_denied"
    assert DriveUsage.objects.get(user=alice).used_bytes == 12
    from suite.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as short:
        file_write(actor=alice, parent_id=root.pk, title="b.txt", body=io.BytesIO(b"abc"), size=5)
    assert short.value.code == "size_mismatch"
    assert not Item.objects.filter(title="b.txt").exists()
    bob = UserFactory()
    from suite.errors import NotFound

    with pytest.raises(NotFound):
        file_write(actor=bob, item_id=item.pk, body=io.BytesIO(b"intrusion"))


def test_file_write_create_only_refuses_an_existing_title():
    import io

    from drive_app.services.items import workspace_for
    from drive_app.services.uploads import file_write
    from suite.errors import Conflict

    alice = UserFactory()
    root = workspace_for(alice)
    file_write(actor=alice, parent_id=root.pk, title="r.txt", body=io.BytesIO(b"one"), size=3)
    with pytest.raises(Conflict) as conflict:
        file_write(actor=alice, parent_id=root.pk, title="R.txt", body=io.BytesIO(b"two"), size=3, create_only=True)
    assert conflict.value.code == "title_conflict"
    assert FileVersion.objects.filter(item__title="r.txt").count() == 1


def test_multipart_with_a_wrong_checksum_is_rejected_when_read(api, small_multipart):
    """Parts carry no whole-file digest: the declared SHA-256 is checked when the bytes are
    read back (here by the task run in process), and the upload is refused and cleaned."""
    alice = UserFactory()
    data = bytes(range(256)) * (6 * MIB // 256)
    item = start_multipart(api, alice, "gros.bin", len(data), sha256="0" * 64)
    parts = []
    for number, part in part_urls(api, alice, item["id"], [1, 2]).items():
        response = put_bytes(part, data[(number - 1) * 5 * MIB: number * 5 * MIB])
        assert response.status_code == 200, response.text
        parts.append({"number": number, "etag": response.headers["ETag"]})
    ended = api(alice).post(f"{API}/items/{item['id']}/upload-ended/", json={"parts": parts})
    assert_error(ended, 422, "checksum_mismatch")
    version = FileVersion.objects.get(item_id=item["id"])
    assert version.state == "rejected" and version.charged_bytes == 0
    with pytest.raises(BlobNotFound):
        get_blob_store().head(version.key)
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 0


@pytest.fixture
def queued_analyses(settings, monkeypatch):
    """Tasks queued for a worker instead of run in process: the analyses asked for."""
    from drive_app import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued: list[str] = []
    monkeypatch.setattr(tasks.analyze_version, "delay", queued.append)
    return queued


def test_a_file_above_the_inline_limit_is_typed_now_and_hashed_by_a_task(api, settings, queued_analyses):
    settings.DRIVE_INLINE_ANALYSIS_BYTES = 1000
    alice = UserFactory()
    data = b"plain text\n" * 200  # 2,200 bytes
    ended = upload_file(api, alice, "notes.txt", data)
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert body["upload_state"] == "analyzing" and body["size"] is None and body["abilities"]["download"] is False
    version = FileVersion.objects.get(item_id=body["id"])
    assert queued_analyses == [str(version.pk)] and version.size == len(data) and version.charged_bytes == len(data)
    assert_error(api(alice).get(f"{API}/items/{body['id']}/download/"), 409, "file_not_ready")
    # The worker's analysis: hash, type, scan; then the file is served.
    from drive_app.services.uploads import analyze

    assert analyze(version.pk) == "ready"
    item = api(alice).get(f"{API}/items/{body['id']}/").json()
    assert item["upload_state"] == "ready" and item["sha256"] == sha256(data) and item["size"] == len(data)
    # The type is still judged in the request from the first bytes: no task for a refusal.
    assert_error(upload_file(api, alice, "faux.pdf", data), 422, "type_mismatch")
    assert len(queued_analyses) == 1


def test_a_digest_verified_by_s3_needs_no_read_back(api, settings, queued_analyses):
    """Above the inline limit, a declared SHA-256 that S3 verified at upload (and reports)
    makes the file ready at once with the no-op scanner; a real scanner still needs the task."""
    settings.DRIVE_INLINE_ANALYSIS_BYTES = 1000
    alice = UserFactory()
    data = b"plain text\n" * 200
    ended = upload_file(api, alice, "verifie.txt", data, sha256=sha256(data))
    assert ended.status_code == 200, ended.content
    assert ended.json()["upload_state"] == "ready" and ended.json()["sha256"] == sha256(data)
    assert queued_analyses == []
    settings.DRIVE_SCANNER, settings.DRIVE_CLAMD_ADDRESS = "clamav", "127.0.0.1:9"
    ended = upload_file(api, alice, "a-scanner.txt", data, sha256=sha256(data))
    assert ended.json()["upload_state"] == "analyzing" and len(queued_analyses) == 1


def test_small_upload_costs_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    """Create and upload-ended of a small file: the access check carries what the answer
    shows (no re-reads), and one transaction each."""
    alice = UserFactory()
    upload_file(api, alice, "warm.txt", b"warm")  # the workspace and the usage row exist
    client = api(alice)
    with django_assert_max_num_queries(11):  # token (+ its last use), transaction, 7 statements
        created = client.post(f"{API}/items/", json={"type": "file", "title": "q.txt", "size": 5}).json()
    assert put_bytes(created["upload"], b"hello").status_code == 200
    with django_assert_max_num_queries(8):  # token, access, transaction, 5 statements
        ended = client.post(f"{API}/items/{created['id']}/upload-ended/", json={})
    assert ended.json()["upload_state"] == "ready" and ended.json()["role"] == "owner"


def test_a_taken_file_title_is_a_conflict_found_by_the_constraint(api):
    """With on_conflict=error the unique constraint alone finds a taken title (no lookup
    first): the request answers 409 naming the existing item and leaves no row behind."""
    alice = UserFactory()
    first = upload_file(api, alice, "Rapport.txt", b"one").json()
    items, versions = Item.objects.count(), FileVersion.objects.count()
    again = api(alice).post(f"{API}/items/", json={"type": "file", "title": "rapport.TXT", "size": 3})
    error = assert_error(again, 409, "title_conflict")
    assert error["details"] == {"existing": first["id"], "type": "file"}
    assert (Item.objects.count(), FileVersion.objects.count()) == (items, versions)
    renamed = api(alice).post(f"{API}/items/", json={"type": "file", "title": "rapport.TXT", "size": 3,
                                                     "on_conflict": "rename"})
    assert renamed.status_code == 201 and renamed.json()["title"] == "rapport (2).TXT"


def test_an_older_version_judged_late_does_not_replace_a_newer_ready_one(api, settings, queued_analyses):
    settings.DRIVE_INLINE_ANALYSIS_BYTES = 1000
    alice = UserFactory()
    old = b"old text\n" * 200  # above the inline limit: analyzed by the (queued) task
    first = upload_file(api, alice, "suivi.txt", old).json()
    assert first["upload_state"] == "analyzing"
    new = b"new"
    started = api(alice).post(f"{API}/items/{first['id']}/versions/", json={"size": len(new)}).json()
    assert put_bytes(started["upload"], new).status_code == 200
    ended = api(alice).post(f"{API}/items/{first['id']}/upload-ended/", json={}).json()
    assert ended["upload_state"] == "ready" and ended["sha256"] == sha256(new)
    from drive_app.services.uploads import analyze

    assert analyze(queued_analyses[0]) == "ready"  # version 1, judged after version 2
    item = api(alice).get(f"{API}/items/{first['id']}/").json()
    assert (item["upload_state"], item["size"], item["sha256"]) == ("ready", len(new), sha256(new))
    states = list(FileVersion.objects.filter(item_id=first["id"]).order_by("number").values_list("state", flat=True))
    assert states == ["ready", "ready"]
    assert str(Item.objects.get(pk=first["id"]).current_version.number) == "2"


def test_an_empty_file_is_uploaded_and_served(api):
    """S3 answers a ranged GET of an empty object with 416: upload-ended falls back to its
    HEAD; the empty file is ready with the SHA-256 of no bytes."""
    alice = UserFactory()
    ended = upload_file(api, alice, "vide.txt", b"")
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert (body["upload_state"], body["size"], body["sha256"]) == ("ready", 0, sha256(b""))
    download = api(alice).get(f"{API}/items/{body['id']}/download/")
    assert download.status_code == 302
    assert requests.get(download["Location"], timeout=10).content == b""


def test_completing_with_a_wrong_etag_is_refused_and_the_upload_stays_open(api, small_multipart):
    alice = UserFactory()
    data = bytes(range(256)) * (6 * MIB // 256)
    item = start_multipart(api, alice, "etag.bin", len(data))
    parts = []
    for number, part in part_urls(api, alice, item["id"], [1, 2]).items():
        response = put_bytes(part, data[(number - 1) * 5 * MIB: number * 5 * MIB])
        parts.append({"number": number, "etag": response.headers["ETag"]})
    wrong = [parts[0], {"number": 2, "etag": "0" * 32}]
    error = assert_error(api(alice).post(f"{API}/items/{item['id']}/upload-ended/", json={"parts": wrong}), 422,
                         "upload_incomplete")
    assert error["message"].startswith("The parts cannot be assembled") and error["details"]["reason"]
    assert FileVersion.objects.get(item_id=item["id"]).state == "pending"
    ended = api(alice).post(f"{API}/items/{item['id']}/upload-ended/", json={"parts": parts})
    assert ended.status_code == 200 and ended.json()["upload_state"] == "ready"


def test_deleting_a_version_leaves_the_file_in_the_state_of_its_newest_remaining_one(api, settings, queued_analyses):
    alice = UserFactory()
    first = upload_file(api, alice, "note.txt", b"v1").json()
    # v2 refused (a text that claims to be a PNG): the file shows the refusal, v1 still serves.
    started = api(alice).post(f"{API}/items/{first['id']}/versions/", json={"size": 5, "content_type": "image/png"})
    assert put_bytes(started.json()["upload"], b"texte").status_code == 200
    assert_error(api(alice).post(f"{API}/items/{first['id']}/upload-ended/", json={}), 422, "type_mismatch")
    assert api(alice).get(f"{API}/items/{first['id']}/").json()["upload_state"] == "rejected"
    rejected = FileVersion.objects.get(item_id=first["id"], number=2)
    assert api(alice).delete(f"{API}/items/{first['id']}/versions/{rejected.pk}/").status_code == 204
    assert api(alice).get(f"{API}/items/{first['id']}/").json()["upload_state"] == "ready"
    # v3 still being analyzed (above the inline limit: a task), then deleted: ready again.
    settings.DRIVE_INLINE_ANALYSIS_BYTES = 10
    assert upload_file(api, alice, "note.txt", b"a longer third text", on_conflict="version").json()[
        "upload_state"] == "analyzing"
    analyzing = FileVersion.objects.get(item_id=first["id"], state="analyzing")
    assert api(alice).delete(f"{API}/items/{first['id']}/versions/{analyzing.pk}/").status_code == 204
    assert api(alice).get(f"{API}/items/{first['id']}/").json()["upload_state"] == "ready"
    # The only version left is the current one; a refused-only file keeps its one version.
    only = FileVersion.objects.get(item_id=first["id"])
    assert_error(api(alice).delete(f"{API}/items/{first['id']}/versions/{only.pk}/"), 409, "current_version")
    assert_error(upload_file(api, alice, "image.png", b"pas une image"), 422, "type_mismatch")
    image = Item.objects.get(title="image.png")
    lone = FileVersion.objects.get(item=image)
    assert_error(api(alice).delete(f"{API}/items/{image.pk}/versions/{lone.pk}/"), 409, "last_version")


def test_a_body_of_unknown_length_is_stopped_at_the_quota_or_the_size_limit(settings):
    """A chunked WebDAV PUT announces no size: the body is cut off as soon as it passes the
    room left (507) or the size limit (413), not read and stored whole first; nothing stays
    in S3 or in the database."""
    from drive_app.quota import QuotaExceeded
    from drive_app.services.items import workspace_for
    from drive_app.services.uploads import file_write
    from suite.errors import SuiteError

    settings.DRIVE_DEFAULT_QUOTA_BYTES = 3 * MIB
    alice = UserFactory()
    root = workspace_for(alice)
    sent: list[int] = []

    def body(total_mib: int):
        for _ in range(total_mib):
            sent.append(MIB)
            yield b"z" * MIB

    keys_before = set(FileVersion.objects.values_list("key", flat=True))
    with pytest.raises(QuotaExceeded):
        file_write(actor=alice, parent_id=root.pk, title="flux.bin", body=body(64))
    assert sum(sent) <= 5 * MIB  # stopped right after the quota, not after 64 MiB
    assert not Item.objects.filter(title="flux.bin").exists()
    assert DriveUsage.objects.get(user=alice).used_bytes == 0
    assert set(FileVersion.objects.values_list("key", flat=True)) == keys_before

    settings.DRIVE_DEFAULT_QUOTA_BYTES = 1024 * MIB
    settings.DRIVE_MAX_FILE_BYTES = 2 * MIB
    sent.clear()
    with pytest.raises(SuiteError) as too_large:
        file_write(actor=alice, parent_id=root.pk, title="flux.bin", body=body(64))
    assert (too_large.value.code, too_large.value.status) == ("file_too_large", 413)
    assert sum(sent) <= 4 * MIB
    assert not Item.objects.filter(title="flux.bin").exists()
    # Above the store's part size the body goes in multipart: cut off all the same, and the
    # multipart upload is aborted (nothing left for the cleanup to find).
    settings.DRIVE_MAX_FILE_BYTES, settings.DRIVE_DEFAULT_QUOTA_BYTES = 1024 * MIB, 20 * MIB
    sent.clear()

    def open_uploads() -> set[str]:
        return {u.upload_id for u in get_blob_store().multipart_list_uploads("drive/", older_than=dt.timedelta(0))}

    before = open_uploads()
    with pytest.raises(QuotaExceeded):
        file_write(actor=alice, parent_id=root.pk, title="flux.bin", body=body(64))
    assert 20 * MIB < sum(sent) <= 40 * MIB
    assert open_uploads() - before == set()
    # Room freed while the body streamed does not matter: the body past the room counted when
    # it started is refused as over quota, in the uniform error (never an internal one).
    from drive_app import quota

    real_room_left = quota.room_left
    quota.room_left = lambda user_id: MIB  # type: ignore[assignment]
    try:
        with pytest.raises(QuotaExceeded):
            file_write(actor=alice, parent_id=root.pk, title="flux.bin", body=body(4))
    finally:
        quota.room_left = real_room_left  # type: ignore[assignment]
    # Within both, the same body of unknown length is stored.
    stored = file_write(actor=alice, parent_id=root.pk, title="flux.bin", body=body(2))
    assert stored.upload_state == "ready" and stored.size == 2 * MIB
