"""What concurrent requests and overlapping tasks may not do to the drive: number two
versions alike, delete an upload that just ended, release a charge twice or from the wrong
drive, or answer 500 for a title PostgreSQL and Python fold differently. Real PostgreSQL and
S3; concurrency through threads, each with its own database connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from drive_app.models import DriveUsage, FileVersion, Item, ItemAccess
from drive_app.services.uploads import analyze
from drive_app.services.uploads.analysis import Refusal, reject
from drive_app.services.uploads.pending import forget_pending
from suite.access.roles import Role
from suite.errors import Conflict
from tests.concurrency import waits_for
from tests.conftest import assert_error
from tests.drive_app.conftest import API, put_bytes, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_titles_that_fold_alike_in_postgresql_are_a_conflict_not_a_500(api):
    """PostgreSQL lowers "İ" to "i" where Python gives "i̇": the lookup must fold as the
    unique index does, or the index itself refuses the row with nothing to catch it."""
    alice = UserFactory()
    assert api(alice).post(f"{API}/items/", json={"type": "folder", "title": "i"}).status_code == 201
    assert_error(api(alice).post(f"{API}/items/", json={"type": "folder", "title": "İ"}), 409, "title_conflict")
    renamed = api(alice).post(f"{API}/items/", json={"type": "folder", "title": "İ", "on_conflict": "rename"})
    assert renamed.status_code == 201 and renamed.json()["title"] == "İ (2)"
    file = api(alice).post(f"{API}/items/", json={"type": "file", "title": "İ", "size": 1})
    assert_error(file, 409, "title_conflict")


def test_a_free_name_is_found_for_a_title_with_a_very_long_extension(api):
    alice = UserFactory()
    title = "a." + "x" * 253  # 255 characters, almost all extension
    assert api(alice).post(f"{API}/items/", json={"type": "folder", "title": title}).status_code == 201
    again = api(alice).post(f"{API}/items/", json={"type": "folder", "title": title, "on_conflict": "rename"})
    assert again.status_code == 201, again.content
    assert len(again.json()["title"]) == 255 and again.json()["title"].endswith(" (2)")


def test_parallel_new_versions_of_one_file_get_their_own_numbers(api):
    alice = UserFactory()
    item = upload_file(api, alice, "suivi.txt", b"v1").json()
    answers: list[int] = []

    def new_version() -> None:
        try:
            answers.append(api(alice).post(f"{API}/items/{item['id']}/versions/", json={"size": 2}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=new_version) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [201] * 4
    assert sorted(FileVersion.objects.filter(item_id=item["id"]).values_list("number", flat=True)) == [1, 2, 3, 4, 5]


def test_an_upload_that_ended_meanwhile_is_not_forgotten(api):
    """A cancel (multipart abort, version delete, the cleanup) that read the upload as
    pending before upload-ended committed must not delete the file it became."""
    alice = UserFactory()
    created = api(alice).post(f"{API}/items/", json={"type": "file", "title": "a.txt", "size": 5}).json()
    stale = FileVersion.objects.select_related("item").get(item_id=created["id"])  # read while pending
    assert put_bytes(created["upload"], b"hello").status_code == 200
    ended = api(alice).post(f"{API}/items/{created['id']}/upload-ended/", json={})
    assert ended.json()["upload_state"] == "ready"

    with pytest.raises(Conflict) as refused, transaction.atomic():
        forget_pending(stale.item, stale)
    assert refused.value.code == "no_pending_upload"
    assert Item.objects.get(pk=created["id"]).current_version_id == stale.pk
    assert DriveUsage.objects.get(user=alice).used_bytes == 5


def test_a_refusal_releases_the_charge_once_and_from_the_drive_that_holds_it(api, settings, monkeypatch):
    """An analysis reads the bytes for a long time: meanwhile the file may move to another
    person's drive, or an overlapping run may settle it first. The charge released is the
    one recorded now, from its owner now, and only once."""
    from drive_app import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.DRIVE_INLINE_ANALYSIS_BYTES = 10
    monkeypatch.setattr(tasks.analyze_version, "delay", lambda version_id: None)
    alice, bob = UserFactory(), UserFactory()
    data = b"analyzed by a task"
    item = upload_file(api, alice, "rapport.txt", data).json()
    assert item["upload_state"] == "analyzing"
    stale = FileVersion.objects.select_related("item").get(item_id=item["id"])  # as the task read it
    assert DriveUsage.objects.get(user=alice).used_bytes == len(data)
    # Alice moves it into a folder of Bob's that he shared with her as an owner.
    bobs = api(bob).post(f"{API}/items/", json={"type": "folder", "title": "Reçus"}).json()
    ItemAccess.objects.create(resource_id=bobs["id"], user=alice, role=Role.OWNER)
    assert api(alice).post(f"{API}/items/{item['id']}/move/", json={"parent": bobs["id"]}).status_code == 200
    assert DriveUsage.objects.get(user=bob).used_bytes == len(data)

    with transaction.atomic():
        reject(stale, Refusal("scan_limit_exceeded", "too large for the scanner"))
    assert DriveUsage.objects.get(user=bob).used_bytes == 0
    assert DriveUsage.objects.get(user=alice).used_bytes == 0
    # An overlapping run finds it settled and releases nothing more.
    assert analyze(stale.pk) == "rejected"
    assert (DriveUsage.objects.get(user=alice).used_bytes, DriveUsage.objects.get(user=bob).used_bytes) == (0, 0)


def test_a_folder_trashed_while_something_is_created_in_it_takes_it_along(api):
    """A create that holds the folder's row when the trash comes: the trash waits, then marks
    the new child too. A create that comes after the trash took the folder: 404."""
    from drive_app.services.items import item_trash
    from suite.access import tree
    from suite.errors import NotFound

    alice = UserFactory()
    folder = api(alice).post(f"{API}/items/", json={"type": "folder", "title": "Dossier"}).json()
    sub = api(alice).post(f"{API}/items/", json={"type": "folder", "title": "Sous", "parent": folder["id"]}).json()
    child: dict[str, object] = {}

    def create_in_sub() -> None:
        parent = Item.objects.get(pk=sub["id"])
        path = tree.new_child_path(Item, parent.pk)  # holds the row of "Sous" from here
        child["id"] = Item.objects.create(
            path=path, depth=parent.depth + 1, parent=parent, quota_owner_id=parent.quota_owner_id,
            type="folder", title="Nouveau").pk

    waits_for(create_in_sub, lambda: item_trash(actor=alice, item_id=folder["id"]))  # the trash waits for the row
    assert Item.objects.get(pk=child["id"]).ancestors_deleted_at is not None  # in the trash with its folder
    assert_error(api(alice).get(f"{API}/items/{child['id']}/"), 404, "not_found")

    with pytest.raises(NotFound), transaction.atomic():
        tree.new_child_path(Item, sub["id"])
