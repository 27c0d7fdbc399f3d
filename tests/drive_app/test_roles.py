"""Role × endpoint table of the drive: every endpoint of an item, for each role granted on
the shared folder (inherited by what is inside), a stranger and an anonymous caller."""

from __future__ import annotations

import pytest

from drive_app.models import ItemAccess
from suite.access.roles import Role
from tests.drive_app.conftest import API, upload_file
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["reader", "editor", "administrator", "owner", "stranger"]


@pytest.fixture
def shared(api):
    """An owner's folder "Projet" holding "Sous" and a ready file, shared with one user per role."""
    boss = UserFactory()
    folder = api(boss).post(f"{API}/items/", json={"type": "folder", "title": "Projet"}).json()
    sub = api(boss).post(f"{API}/items/", json={"type": "folder", "title": "Sous", "parent": folder["id"]}).json()
    file = upload_file(api, boss, "doc.txt", b"contenu", parent=folder["id"]).json()
    people = {}
    for name in ROLES:
        people[name] = UserFactory()
        if name != "stranger":
            ItemAccess.objects.create(resource_id=folder["id"], user=people[name], role=Role.from_slug(name))
    return {"folder": folder, "sub": sub, "file": file, "people": people}


def call(api, client, user, action, s):
    f, sub, file = s["folder"]["id"], s["sub"]["id"], s["file"]["id"]
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
