"""Role × endpoint table of the drive: every endpoint of an item, for each role granted on
the shared folder (inherited by what is inside), a stranger and an anonymous caller."""

from __future__ import annotations

import pytest
import requests

from drive_app.models import Favorite, FileVersion, Item, ItemAccess
from suite.access.roles import Role
from tests.drive_app.conftest import API, put_bytes, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024

ROLES = ["reader", "editor", "administrator", "owner", "stranger"]


@pytest.fixture
def shared(api, settings):
    """An owner's folder "Projet" shared with one user per role, holding: "Sous", a ready file
    with two versions, a file whose bytes are in S3 but not yet declared ended, a large file
    with a multipart upload open, and a trashed file."""
    settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES = MIB
    settings.DRIVE_MULTIPART_PART_BYTES = 5 * MIB
    boss = UserFactory()
    folder = api(boss).post(f"{API}/items/", json={"type": "folder", "title": "Projet"}).json()
    sub = api(boss).post(f"{API}/items/", json={"type": "folder", "title": "Sous", "parent": folder["id"]}).json()
    first = upload_file(api, boss, "doc.txt", b"premier", parent=folder["id"]).json()
    file = upload_file(api, boss, "doc.txt", b"contenu", parent=folder["id"], on_conflict="version").json()
    assert file["id"] == first["id"]
    old_version = FileVersion.objects.get(item_id=file["id"], number=1).pk
    pending = api(boss).post(f"{API}/items/", json={"type": "file", "title": "envoi.txt", "size": 3,
                                                     "parent": folder["id"]}).json()
    assert put_bytes(pending["upload"], b"abc").status_code == 200
    big = api(boss).post(f"{API}/items/", json={"type": "file", "title": "gros.bin", "size": 6 * MIB,
                                                 "parent": folder["id"]}).json()
    assert big["multipart"] is not None
    trashed = upload_file(api, boss, "ancien.txt", b"vieux", parent=folder["id"]).json()
    assert api(boss).delete(f"{API}/items/{trashed['id']}/").status_code == 204
    people = {}
    for name in ROLES:
        people[name] = UserFactory()
        if name != "stranger":
            ItemAccess.objects.create(resource_id=folder["id"], user=people[name], role=Role.from_slug(name))
        Favorite.objects.create(user=people[name], item_id=file["id"])  # what "unfavorite" removes
    return {"folder": folder, "sub": sub, "file": file, "old_version": old_version, "pending": pending,
            "big": big, "trashed": trashed, "people": people}


def call(api, client, user, action, s):
    f, sub, file, v1 = s["folder"]["id"], s["sub"]["id"], s["file"]["id"], s["old_version"]
    pending, big, trashed = s["pending"]["id"], s["big"]["id"], s["trashed"]["id"]
    calls = {
        "retrieve": ("get", f"/items/{file}/", None),
        "children": ("get", f"/items/{f}/children/", None),
        "download": ("get", f"/items/{file}/download/", None),
        "versions": ("get", f"/items/{file}/versions/", None),
        "zip": ("get", f"/items/{f}/zip/", None),
        "favorite": ("post", f"/items/{file}/favorite/", {}),
        "copy_to_mine": ("post", f"/items/{file}/copy/", {"parent": None}),
        "create_folder": ("post", "/items/", {"type": "folder", "title": "Nouveau", "parent": f}),
        "create_file": ("post", "/items/", {"type": "file", "title": "n.txt", "size": 3, "parent": f}),
        "rename": ("patch", f"/items/{file}/", {"title": "renommé.txt"}),
        "new_version": ("post", f"/items/{file}/versions/", {"size": 3}),
        "move": ("post", f"/items/{file}/move/", {"parent": sub}),
        "trash": ("delete", f"/items/{file}/", None),
        "destroy": ("delete", f"/items/{file}/?hard=true", None),
        "accesses": ("get", f"/items/{f}/accesses/", None),
        "unfavorite": ("delete", f"/items/{file}/favorite/", None),
        "version_download": ("get", f"/items/{file}/versions/{v1}/download/", None),
        "version_restore": ("post", f"/items/{file}/versions/{v1}/restore/", {}),
        "version_delete": ("delete", f"/items/{file}/versions/{v1}/", None),
        "upload_ended": ("post", f"/items/{pending}/upload-ended/", {}),
        "multipart_parts": ("post", f"/items/{big}/multipart/parts/", {"parts": [1, 2]}),
        "multipart_list": ("get", f"/items/{big}/multipart/", None),
        "multipart_abort": ("delete", f"/items/{big}/multipart/", None),
        "restore": ("post", f"/items/{trashed}/restore/", {}),
        "copy_into_shared": ("post", f"/items/{file}/copy/", {"parent": sub}),
        # Out of the owner's drive into the caller's: handing the file over (owners only).
        "move_to_mine": ("post", f"/items/{file}/move/", {"parent": None}),
        # The shared folder itself out of the owner's workspace: nobody it is shared with.
        "move_shared_folder": ("post", f"/items/{f}/move/", {"parent": None}),
    }
    method, path, body = calls[action]
    if user is None:
        caller = getattr(client, method)
        return caller(f"{API}{path}", data=body or {}, content_type="application/json") if body is not None \
            else caller(f"{API}{path}")
    caller = getattr(api(user), method)
    return caller(f"{API}{path}", json=body) if body is not None else caller(f"{API}{path}")


READ = {"reader": 1, "editor": 1, "administrator": 1, "owner": 1}
WRITE = {"editor": 1, "administrator": 1, "owner": 1}
OWNER = {"owner": 1}
TABLE = {
    "retrieve": (READ, 200),
    "children": (READ, 200),
    "download": (READ, 302),
    "versions": (READ, 200),
    "zip": (READ, 200),
    "favorite": (READ, 201),
    "copy_to_mine": (READ, 201),
    "accesses": (READ, 200),
    "create_folder": (WRITE, 201),
    "create_file": (WRITE, 201),
    "rename": (WRITE, 200),
    "new_version": (WRITE, 201),
    "move": (WRITE, 200),
    "trash": (WRITE, 204),
    "destroy": (OWNER, 204),
    "unfavorite": (READ, 204),
    "version_download": (READ, 302),
    "version_restore": (WRITE, 200),
    "version_delete": (WRITE, 204),
    "upload_ended": (WRITE, 200),
    "multipart_parts": (WRITE, 200),
    "multipart_list": (WRITE, 200),
    "multipart_abort": (WRITE, 204),
    "restore": (WRITE, 200),
    "copy_into_shared": (WRITE, 201),
    "move_to_mine": (OWNER, 200),
    "move_shared_folder": ({}, 200),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(TABLE))
def test_role_table(api, client, shared, role, action):
    allowed, success = TABLE[action]
    response = call(api, client, shared["people"][role], action, shared)
    if role in allowed:
        assert response.status_code == success, (role, action, response.content)
    elif role == "stranger":
        assert response.status_code == 404, (role, action, response.content)
        assert response.json()["error"]["code"] == "not_found"
    else:
        assert response.status_code == 403, (role, action, response.content)
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("action", sorted(TABLE))
def test_anonymous_is_refused_everywhere(api, client, shared, action):
    response = call(api, client, None, action, shared)
    assert response.status_code == 401, (action, response.content)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_refusal_changes_nothing(api, client, shared):
    """What the table refuses leaves rows and bytes as they were: an editor's attempt to take
    the owner's file into their own drive, then to delete it for good."""
    editor, file = shared["people"]["editor"], shared["file"]["id"]
    before = Item.objects.values_list("pk", "parent_id", "quota_owner_id", "deleted_at").get(pk=file)
    assert call(api, client, editor, "move_to_mine", shared).status_code == 403
    assert call(api, client, editor, "destroy", shared).status_code == 403
    assert Item.objects.values_list("pk", "parent_id", "quota_owner_id", "deleted_at").get(pk=file) == before
    download = api(shared["people"]["owner"]).get(f"{API}/items/{file}/download/")
    assert requests.get(download["Location"], timeout=30).content == b"contenu"


@pytest.mark.parametrize("path", ["/usage/", "/items/favorites/", "/items/recent/", "/items/trash/"])
def test_anonymous_has_no_drive(client, path):
    response = client.get(f"{API}{path}")
    assert response.status_code == 401, (path, response.content)
    assert response.json()["error"]["code"] == "not_authenticated"
