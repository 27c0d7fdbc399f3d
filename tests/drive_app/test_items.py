"""Drive items over the REST API: folders, uploads of small files, downloads, rename, move,
copy, trash, restore, destroy, favorites, search, usage; on real S3 and PostgreSQL."""

from __future__ import annotations

import io
import random

import pytest
import requests

from drive_app.models import FileVersion, Item
from suite.storage import BlobNotFound, get_blob_store
from tests.conftest import assert_error
from tests.drive_app.conftest import API, put_bytes, sha256, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit work (S3 deletes, tasks) runs

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def folder(api, user, title, parent=None, **extra):
    response = api(user).post(f"{API}/items/", json={"type": "folder", "title": title, "parent": parent, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_workspace_folder_file_upload_and_download(api):
    alice = UserFactory()
    roots = api(alice).get(f"{API}/items/").json()
    assert roots["count"] == 1 and roots["items"][0]["workspace"] is True
    reports = folder(api, alice, "Rapports")
    assert reports["parent"] == roots["items"][0]["id"] and reports["role"] == "owner"
    data = b"Compte rendu du conseil\n" * 100
    response = upload_file(api, alice, "cr.txt", data, parent=reports["id"], sha256=sha256(data))
    assert response.status_code == 200, response.content
    item = response.json()
    assert item["upload_state"] == "ready"
    assert item["size"] == len(data) and item["sha256"] == sha256(data)
    assert item["mimetype"] == "text/plain" and item["abilities"]["download"] is True
    download = api(alice).get(f"{API}/items/{item['id']}/download/")
    assert download.status_code == 302
    fetched = requests.get(download["Location"], timeout=10)
    assert fetched.content == data
    assert "cr.txt" in fetched.headers["Content-Disposition"]
    children = api(alice).get(f"{API}/items/{reports['id']}/children/").json()
    assert [child["title"] for child in children["items"]] == ["cr.txt"]


def test_title_rules_and_conflicts(api):
    alice = UserFactory()
    for bad in ["", "  ", "a/b", "..", "bad\x07name", "tab\there", "x" * 300, "back\\slash", "rtl\u202eexe.pdf"]:
        response = api(alice).post(f"{API}/items/", json={"type": "folder", "title": bad})
        assert_error(response, 422, "invalid_title")
    # NUL never reaches the services: the platform's input guard refuses it first.
    assert_error(api(alice).post(f"{API}/items/", json={"type": "folder", "title": "a\x00b"}), 400, "bad_request")
    folder(api, alice, "Budget")
    assert_error(api(alice).post(f"{API}/items/", json={"type": "folder", "title": "budget"}), 409, "title_conflict")
    renamed = folder(api, alice, "Budget", on_conflict="rename")
    assert renamed["title"] == "Budget (2)"


def test_size_mismatch_checksum_and_type_are_rejected_and_cleaned(api):
    alice = UserFactory()
    created = api(alice).post(f"{API}/items/", json={"type": "file", "title": "a.txt", "size": 10}).json()
    requests.put(created["upload"]["url"], data=b"0123456789", headers=created["upload"]["headers"], timeout=10)
    # Wrong checksum: the declared SHA-256 is signed into the upload URL, so S3 itself refuses
    # other bytes; nothing is stored and upload-ended says so.
    bad = api(alice).post(f"{API}/items/", json={"type": "file", "title": "b.txt", "size": 5,
                                                 "sha256": "0" * 64}).json()
    assert "x-amz-checksum-sha256" in bad["upload"]["headers"]
    assert put_bytes(bad["upload"], b"hello").status_code == 400
    version = FileVersion.objects.get(item_id=bad["id"])
    with pytest.raises(BlobNotFound):
        get_blob_store().head(version.key)
    assert_error(api(alice).post(f"{API}/items/{bad['id']}/upload-ended/", json={}), 409, "upload_missing")
    assert Item.objects.get(pk=bad["id"]).current_version_id is None
    assert_error(api(alice).get(f"{API}/items/{bad['id']}/download/"), 409, "file_not_ready")
    # The right digest is accepted.
    good = upload_file(api, alice, "c.txt", b"hello", sha256=sha256(b"hello"))
    assert good.status_code == 200 and good.json()["sha256"] == sha256(b"hello")
    # An executable named .pdf
    header = bytearray(512)  # a minimal Windows PE header: "MZ", e_lfanew, "PE\0\0", i386
    header[0:2], header[0x3C:0x40], header[0x80:0x86] = b"MZ", (0x80).to_bytes(4, "little"), b"PE\0\0\x4c\x01"
    exe = bytes(header)
    assert_error(upload_file(api, alice, "facture.pdf", exe), 422, "type_denied")
    # A real PDF named .pdf passes, a text named .pdf does not.
    assert upload_file(api, alice, "vraie.pdf", PDF).json()["mimetype"] == "application/pdf"
    assert_error(upload_file(api, alice, "fausse.pdf", b"just text"), 422, "type_mismatch")
    # Usage counts only accepted bytes.
    usage = api(alice).get(f"{API}/usage/").json()
    assert usage["used_bytes"] == len(PDF) + len(b"hello")


def test_declared_size_differs_from_uploaded(api):
    """The signed length keeps a browser from sending other sizes; whatever reached S3 by
    other means, upload-ended checks the object's real size: refused, object deleted,
    nothing charged, the file never served."""
    alice = UserFactory()
    created = api(alice).post(f"{API}/items/", json={"type": "file", "title": "n.txt", "size": 10}).json()
    key = FileVersion.objects.get(item_id=created["id"]).key
    get_blob_store().put(key, io.BytesIO(b"12345"), size=5, content_type="text/plain")  # 5 of the 10 bytes
    assert_error(api(alice).post(f"{API}/items/{created['id']}/upload-ended/", json={}), 422, "size_mismatch")
    item = Item.objects.get(pk=created["id"])
    assert (item.upload_state, item.current_version_id) == ("rejected", None)
    assert FileVersion.objects.get(item=item).state_reason.startswith("size_mismatch")
    with pytest.raises(BlobNotFound):
        get_blob_store().head(key)
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 0
    assert_error(api(alice).get(f"{API}/items/{created['id']}/download/"), 409, "file_not_ready")
    # The right size passes; nothing uploaded at all is "missing".
    assert upload_file(api, alice, "ok.txt", b"12345").json()["upload_state"] == "ready"
    missing = api(alice).post(f"{API}/items/", json={"type": "file", "title": "m.txt", "size": 5}).json()
    assert_error(api(alice).post(f"{API}/items/{missing['id']}/upload-ended/", json={}), 409, "upload_missing")


def test_a_failed_upload_does_not_hold_its_title(api):
    """A file whose only upload was refused is kept with its reason (the uploader sees why),
    but its title is free: uploading again under it adds a version that replaces nothing
    servable; a file that is ready still holds its title."""
    alice = UserFactory()
    assert_error(upload_file(api, alice, "facture.pdf", b"just text"), 422, "type_mismatch")
    refused = Item.objects.get(title="facture.pdf")
    again = upload_file(api, alice, "facture.pdf", PDF)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == str(refused.pk) and again.json()["upload_state"] == "ready"
    assert list(FileVersion.objects.filter(item=refused).order_by("number").values_list("state", flat=True)) == [
        "rejected", "ready"]
    assert_error(api(alice).post(f"{API}/items/", json={"type": "file", "title": "facture.pdf", "size": 3}),
                 409, "title_conflict")


def test_copy_of_a_file_with_nothing_ready_is_a_conflict(api):
    alice = UserFactory()
    pending = api(alice).post(f"{API}/items/", json={"type": "file", "title": "p.txt", "size": 3}).json()
    assert pending["abilities"]["copy"] is False
    copied = api(alice).post(f"{API}/items/{pending['id']}/copy/", json={"parent": None})
    assert_error(copied, 409, "file_not_ready")
    assert Item.objects.filter(title__startswith="p").count() == 1


def test_quota_refuses_at_start_and_at_end(api, settings):
    settings.DRIVE_DEFAULT_QUOTA_BYTES = 100
    alice = UserFactory()
    assert_error(api(alice).post(f"{API}/items/", json={"type": "file", "title": "big", "size": 101}), 507, "quota_exceeded")
    first = api(alice).post(f"{API}/items/", json={"type": "file", "title": "one", "size": 60}).json()
    second = api(alice).post(f"{API}/items/", json={"type": "file", "title": "two", "size": 60}).json()
    for created in (first, second):
        requests.put(created["upload"]["url"], data=b"x" * 60, headers=created["upload"]["headers"], timeout=10)
    assert api(alice).post(f"{API}/items/{first['id']}/upload-ended/", json={}).status_code == 200
    assert_error(api(alice).post(f"{API}/items/{second['id']}/upload-ended/", json={}), 507, "quota_exceeded")
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 60
    version = FileVersion.objects.get(item_id=second["id"])
    assert version.state == "rejected"


def test_rename_move_copy_trash_restore_destroy(api):
    alice = UserFactory()
    a = folder(api, alice, "A")
    b = folder(api, alice, "B")
    item = upload_file(api, alice, "note.txt", b"hello", parent=a["id"]).json()
    renamed = api(alice).patch(f"{API}/items/{item['id']}/", json={"title": "mémo.txt"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "mémo.txt"
    moved = api(alice).post(f"{API}/items/{item['id']}/move/", json={"parent": b["id"]})
    assert moved.status_code == 200 and moved.json()["parent"] == b["id"]
    assert_error(api(alice).post(f"{API}/items/{a['id']}/move/", json={"parent": a["id"]}), 400, "invalid_move")
    inner = folder(api, alice, "inner", parent=a["id"])
    assert_error(api(alice).post(f"{API}/items/{a['id']}/move/", json={"parent": inner["id"]}), 400, "invalid_move")
    copy = api(alice).post(f"{API}/items/{b['id']}/copy/", json={"parent": a["id"]})
    assert copy.status_code == 201, copy.content
    copied_children = api(alice).get(f"{API}/items/{copy.json()['id']}/children/").json()["items"]
    assert [c["title"] for c in copied_children] == ["mémo.txt"]
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 10
    # Trash and restore
    assert api(alice).delete(f"{API}/items/{b['id']}/").status_code == 204
    assert_error(api(alice).get(f"{API}/items/{item['id']}/"), 404, "not_found")
    assert [t["id"] for t in api(alice).get(f"{API}/items/trash/").json()["items"]] == [b["id"]]
    folder(api, alice, "B")  # the title is free while B is in the trash
    restored = api(alice).post(f"{API}/items/{b['id']}/restore/")
    assert restored.status_code == 200 and restored.json()["title"] == "B (2)"
    # Destroy deletes the S3 objects and releases the quota.
    key = FileVersion.objects.get(item_id=item["id"]).key
    assert api(alice).delete(f"{API}/items/{b['id']}/?hard=true").status_code == 204
    with pytest.raises(BlobNotFound):
        get_blob_store().head(key)
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 5


def test_permission_denied_for_strangers_and_readers(api):
    alice, bob = UserFactory(), UserFactory()
    a = folder(api, alice, "Privé")
    item = upload_file(api, alice, "s.txt", b"secret", parent=a["id"]).json()
    for method, path, body in [
        ("get", f"/items/{item['id']}/", None),
        ("get", f"/items/{item['id']}/download/", None),
        ("patch", f"/items/{item['id']}/", {"title": "x"}),
        ("delete", f"/items/{item['id']}/", None),
        ("post", f"/items/{a['id']}/move/", {"parent": None}),
        ("get", f"/items/{a['id']}/children/", None),
        ("post", f"/items/{item['id']}/versions/", {"size": 1}),
    ]:
        call = getattr(api(bob), method)
        response = call(f"{API}{path}", json=body) if body is not None else call(f"{API}{path}")
        assert_error(response, 404, "not_found")
    assert_error(api(bob).post(f"{API}/items/", json={"type": "folder", "title": "x", "parent": a["id"]}), 404, "not_found")


def test_search_favorites_recent(api):
    alice = UserFactory()
    folder(api, alice, "Été 2026")
    folder(api, alice, "Hiver")
    found = api(alice).get(f"{API}/items/?q=ete").json()
    assert [i["title"] for i in found["items"]] == ["Été 2026"]
    item = upload_file(api, alice, "r.txt", b"r").json()
    assert api(alice).post(f"{API}/items/{item['id']}/favorite/").status_code == 201
    assert [i["id"] for i in api(alice).get(f"{API}/items/favorites/").json()["items"]] == [item["id"]]
    api(alice).get(f"{API}/items/{item['id']}/download/")
    assert [i["id"] for i in api(alice).get(f"{API}/items/recent/").json()["items"]] == [item["id"]]
    assert api(alice).delete(f"{API}/items/{item['id']}/favorite/").status_code == 204


def test_quota_override_from_the_command_line_and_usage(api):
    from io import StringIO

    from django.core.management import call_command

    alice = UserFactory()
    upload_file(api, alice, "a.txt", b"12345")
    out = StringIO()
    call_command("drive_quota", alice.email, "--set", "1K", stdout=out)
    assert "5 bytes used of 1024 (override)" in out.getvalue()
    usage = api(alice).get(f"{API}/usage/").json()
    assert usage == {"used_bytes": 5, "quota_bytes": 1024, "available_bytes": 1019, "by_type": {"text": 5}}
    assert_error(api(alice).post(f"{API}/items/", json={"type": "file", "title": "b", "size": 1020}), 507,
                 "quota_exceeded")
    call_command("drive_quota", alice.email, "--default", stdout=out)
    assert api(alice).get(f"{API}/usage/").json()["quota_bytes"] == 10 * 1024**3


def test_trash_purge_deletes_objects_after_the_delay(api):
    import datetime as dt

    from django.utils import timezone

    from drive_app.services.items import trash_purge

    alice = UserFactory()
    box = folder(api, alice, "Vieux")
    item = upload_file(api, alice, "old.txt", b"old bytes", parent=box["id"]).json()
    key = FileVersion.objects.get(item_id=item["id"]).key
    assert api(alice).delete(f"{API}/items/{box['id']}/").status_code == 204
    assert trash_purge() == 0  # not yet 30 days
    assert get_blob_store().head(key).size == 9
    assert trash_purge(now=timezone.now() + dt.timedelta(days=31)) == 1
    assert not Item.objects.filter(pk__in=[box["id"], item["id"]]).exists()
    with pytest.raises(BlobNotFound):
        get_blob_store().head(key)
    assert api(alice).get(f"{API}/usage/").json()["used_bytes"] == 0


def test_declared_type_and_max_size_and_children_ordering(api, settings):
    alice = UserFactory()
    # A declared PDF whose bytes are text: refused; the same bytes declared as text: fine.
    assert_error(upload_file(api, alice, "scan", b"plain words", content_type="application/pdf"), 422,
                 "type_mismatch")
    assert upload_file(api, alice, "notes", b"plain words", content_type="text/plain").status_code == 200
    settings.DRIVE_MAX_FILE_BYTES = 1000
    assert_error(api(alice).post(f"{API}/items/", json={"type": "file", "title": "huge", "size": 1001}), 413,
                 "file_too_large")
    for bad_size in (-1, None, 1.5, "12", True):
        response = api(alice).post(f"{API}/items/", json={"type": "file", "title": "x", "size": bad_size})
        assert response.status_code == 422, (bad_size, response.content)
    assert_error(api(alice).post(f"{API}/items/", json={"type": "file", "title": "x", "size": 1, "sha256": "zz"}),
                 422, "validation_error")
    box = folder(api, alice, "Tri")
    upload_file(api, alice, "b-moyen.txt", b"x" * 20, parent=box["id"])
    upload_file(api, alice, "a-grand.txt", b"x" * 30, parent=box["id"])
    upload_file(api, alice, "C-petit.txt", b"x" * 10, parent=box["id"])
    folder(api, alice, "z-dossier", parent=box["id"])

    def titles(ordering):
        response = api(alice).get(f"{API}/items/{box['id']}/children/?ordering={ordering}")
        assert response.status_code == 200, response.content
        return [item["title"] for item in response.json()["items"]]

    assert titles("title") == ["z-dossier", "a-grand.txt", "b-moyen.txt", "C-petit.txt"]  # folders first
    assert titles("-title") == ["z-dossier", "C-petit.txt", "b-moyen.txt", "a-grand.txt"]
    assert titles("size") == ["z-dossier", "C-petit.txt", "b-moyen.txt", "a-grand.txt"]
    assert titles("-size")[1:] == ["a-grand.txt", "b-moyen.txt", "C-petit.txt"]
    assert api(alice).get(f"{API}/items/{box['id']}/children/?ordering=bogus").status_code == 422
    page = api(alice).get(f"{API}/items/{box['id']}/children/?limit=2&offset=1").json()
    assert page["count"] == 4 and len(page["items"]) == 2


def test_listing_costs_constant_queries(api, django_assert_max_num_queries):
    alice = UserFactory()
    box = folder(api, alice, "Beaucoup")

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = api(alice).get(f"{API}/items/{box['id']}/children/")
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    upload_file(api, alice, "x.pdf", b"not a pdf", parent=box["id"])  # rejected: carries its reason
    few, count = count_queries()
    assert count == 1
    for index in range(8):
        folder(api, alice, f"d{index}", parent=box["id"])
        upload_file(api, alice, f"f{index}.txt", b"data", parent=box["id"])
    many, count = count_queries()
    assert count == 17 and many == few


def test_link_reach_opens_a_folder_to_authenticated_users_read_only(api, client):
    alice, bob = UserFactory(), UserFactory()
    box = folder(api, alice, "Ouvert")
    item = upload_file(api, alice, "lisez.txt", b"public notes", parent=box["id"]).json()
    assert_error(api(bob).get(f"{API}/items/{item['id']}/"), 404, "not_found")
    changed = api(alice).patch(f"{API}/items/{box['id']}/", json={"link_reach": "authenticated", "link_role": "reader"})
    assert changed.status_code == 200 and changed.json()["link_reach"] == "authenticated"
    seen = api(bob).get(f"{API}/items/{item['id']}/")
    assert seen.status_code == 200 and seen.json()["role"] == "reader"
    assert api(bob).get(f"{API}/items/{item['id']}/download/").status_code == 302
    assert_error(api(bob).patch(f"{API}/items/{item['id']}/", json={"title": "x.txt"}), 403, "permission_denied")
    assert_error(api(bob).patch(f"{API}/items/{box['id']}/", json={"link_reach": "public"}), 403, "permission_denied")
    assert_error(api(alice).patch(f"{API}/items/{box['id']}/", json={"link_role": "owner"}), 422, "validation_error")
    assert client.get(f"{API}/items/{item['id']}/").status_code == 401  # the API needs an account


def test_a_visit_is_one_row_per_user_and_item_moved_forward_by_later_visits(api):
    from django.core.cache import cache

    from drive_app.models import Visit
    from drive_app.services.items import item_visit

    alice = UserFactory()
    item = Item.objects.get(pk=upload_file(api, alice, "vu.txt", b"seen").json()["id"])
    item_visit(actor=alice, item=item)
    first = Visit.objects.get(user=alice, item=item).visited_at
    item_visit(actor=alice, item=item)  # within the resolution: not written again
    assert Visit.objects.get(user=alice, item=item).visited_at == first
    cache.clear()  # the resolution has passed
    item_visit(actor=alice, item=item)
    visits = list(Visit.objects.filter(user=alice, item=item))
    assert len(visits) == 1 and visits[0].visited_at > first


def test_objects_s3_refused_to_delete_are_deleted_later(api, monkeypatch):
    """A hard delete while S3 refuses deletes: the rows go (204), the object is remembered
    and deleted by the periodic task once S3 answers; nothing is left unknown in S3."""
    from drive_app import tasks
    from drive_app.models import ObjectDeletion
    from suite.storage import BlobStoreError

    alice = UserFactory()
    item = upload_file(api, alice, "a.txt", b"hello").json()
    key = FileVersion.objects.get(item_id=item["id"]).key
    store = get_blob_store()

    def refuse(self, key):
        raise BlobStoreError("S3 unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(type(store), "delete", refuse)
        assert api(alice).delete(f"{API}/items/{item['id']}/?hard=true").status_code == 204
        assert not Item.objects.filter(pk=item["id"]).exists()
        assert store.head(key).size == 5  # still in S3, and known:
        assert ObjectDeletion.objects.get(key=key).attempts == 1
        assert tasks.delete_objects() == 0  # S3 still refusing: kept
    assert tasks.delete_objects() == 1
    with pytest.raises(BlobNotFound):
        store.head(key)
    assert not ObjectDeletion.objects.exists()
    # The usual path leaves no record behind.
    other = upload_file(api, alice, "b.txt", b"bye").json()
    assert api(alice).delete(f"{API}/items/{other['id']}/?hard=true").status_code == 204
    assert not ObjectDeletion.objects.exists()


def test_a_guess_of_libmagic_is_not_an_executable(api):
    """libmagic takes about 1 % of random binary data for a DOS COM program (no signature,
    a plausible first instruction): such files are accepted as binary data; a program with
    an executable header is still refused."""
    from drive_app import filetypes

    alice = UserFactory()
    guessed = random.Random(198).randbytes(4096)  # noqa: S311 -- fixed data: starts "jmp short", a COM guess
    assert filetypes.magic.from_buffer(guessed, mime=True) == "application/x-dosexec"
    assert filetypes.check("données.dat", guessed).allowed
    stored = upload_file(api, alice, "données.dat", guessed)
    assert stored.status_code == 200 and stored.json()["mimetype"] == "application/octet-stream"
    header = bytearray(512)
    header[0:2], header[0x3C:0x40], header[0x80:0x86] = b"MZ", (0x80).to_bytes(4, "little"), b"PE\0\0\x4c\x01"
    assert_error(upload_file(api, alice, "outil.dat", bytes(header)), 422, "type_denied")
