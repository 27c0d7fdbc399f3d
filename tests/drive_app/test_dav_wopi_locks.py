"""WebDAV and WOPI locks bind each other: a file open for editing in an office server is
locked for desktop clients, and a file a desktop client locked opens read-only in the office
server (its Lock is refused). Real PostgreSQL and S3; the DAV application is called in
process, the WOPI endpoints through Django's test client as Collabora calls them."""

from __future__ import annotations

import pytest

from drive_app.dav import build_wsgi_application
from drive_app.models import DavLock, FileVersion
from tests.conftest import assert_error
from tests.drive_app.conftest import API
from tests.drive_app.test_dav import LOCK_BODY, Dav, dav_error
from tests.drive_app.test_wopi import Editor, office, team  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
DOC = "/Projets/rapport.odt"


@pytest.fixture
def desktop(team, token_for):  # noqa: F811
    """The folder's owner with a desktop client (app password, ``dav`` scope)."""
    return Dav(build_wsgi_application(), team.owner, token_for(team.owner, ["dav"]))


def test_a_file_open_in_an_office_editor_is_locked_for_desktop_clients(api, client, team, desktop):  # noqa: F811
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("session-A").status_code == 200

    # Writes, deletes, moves and locks of the file, or of the folder holding it, wait.
    dav_error(desktop("PUT", DOC, b"from the desktop"), 423, "locked")
    dav_error(desktop("DELETE", DOC), 423)
    dav_error(desktop("MOVE", DOC, headers={"Destination": desktop.url("/Projets/autre.odt")}), 423)
    dav_error(desktop("LOCK", DOC, LOCK_BODY), 423)
    dav_error(desktop("DELETE", "/Projets/"), 423)
    # The lock is shown, held by the editing session, with no token a client could submit.
    discovery = desktop.propfind(DOC, depth="0", props=["lockdiscovery"])
    assert discovery.status == 207 and discovery.body.count(b"<D:activelock>") == 1
    assert b"office editing session (WOPI)" in discovery.body
    token = discovery.body.split(b"opaquelocktoken:")[1].split(b"<")[0].decode()
    # Submitting it does not make it the client's: the If: condition fails.
    dav_error(desktop("PUT", DOC, b"from the desktop", {"If": f"(<opaquelocktoken:{token}>)"}), 412)
    assert not DavLock.objects.exists()
    # Reading stays possible, and the editor's own save goes through.
    assert desktop("GET", DOC).status == 200
    assert editor.put_file(b"saved by the editor", lock_id="session-A").status_code == 200

    assert editor.unlock("session-A").status_code == 200
    assert desktop("PUT", DOC, b"from the desktop").status == 204
    assert desktop("GET", DOC).body == b"from the desktop"


def test_a_file_a_desktop_client_locked_opens_read_only_in_the_office_editor(api, client, team, desktop):  # noqa: F811
    lock = desktop("LOCK", DOC, LOCK_BODY, {"Timeout": "Second-600"})
    assert lock.status == 200
    token = lock.headers["lock-token"].strip("<>")
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)

    refused = editor.lock("session-A")
    assert refused.status_code == 409 and refused["X-WOPI-Lock"] == ""
    assert refused["X-WOPI-LockFailureReason"] == "Locked by a WebDAV client"
    renamed = editor.rename("autre.odt")
    assert renamed.status_code == 409 and renamed["X-WOPI-Lock"] == ""
    overwrite = editor.put_relative(b"copy", **{"X-WOPI-RelativeTarget": "rapport.odt".encode("utf-7").decode(),
                                                "X-WOPI-OverwriteRelativeTarget": "true"})
    assert overwrite.status_code == 409

    assert desktop("UNLOCK", DOC, headers={"Lock-Token": f"<{token}>"}).status == 204
    assert editor.lock("session-A").status_code == 200


def test_only_a_depth_infinity_lock_on_a_folder_covers_its_files(api, client, team, desktop):  # noqa: F811
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    shallow = desktop("LOCK", "/Projets/", LOCK_BODY, {"Depth": "0"})
    assert shallow.status == 200
    assert editor.lock("session-A").status_code == 200  # a depth-0 folder lock is the folder's only
    assert editor.unlock("session-A").status_code == 200
    assert desktop("UNLOCK", "/Projets/", headers={"Lock-Token": shallow.headers["lock-token"]}).status == 204

    assert desktop("LOCK", "/Projets/", LOCK_BODY, {"Depth": "infinity"}).status == 200
    refused = editor.lock("session-A")
    assert refused.status_code == 409 and refused["X-WOPI-LockFailureReason"] == "Locked by a WebDAV client"


def test_the_api_takes_no_new_version_of_a_locked_file(api, client, team, desktop):  # noqa: F811
    """Uploading a new version through the REST API waits for the lock, as a desktop client
    would: 423 naming who holds it; nothing is created."""
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("session-A").status_code == 200
    new_version = {"size": 3}
    locked = api(team.owner).post(f"{API}/items/{team.doc.pk}/versions/", json=new_version)
    assert_error(locked, 423, "file_locked")
    assert locked.json()["error"]["details"] == {"locked_by": "office_editor"}
    same_title = api(team.owner).post(f"{API}/items/", json={
        "type": "file", "title": "rapport.odt", "size": 3, "parent": str(team.folder.pk), "on_conflict": "version"})
    assert_error(same_title, 423, "file_locked")
    assert editor.unlock("session-A").status_code == 200

    lock = desktop("LOCK", DOC, LOCK_BODY)
    assert lock.status == 200
    locked = api(team.editor).post(f"{API}/items/{team.doc.pk}/versions/", json=new_version)
    assert_error(locked, 423, "file_locked")
    assert locked.json()["error"]["details"] == {"locked_by": "webdav"}
    assert FileVersion.objects.filter(item=team.doc).count() == 1
    assert desktop("UNLOCK", DOC, headers={"Lock-Token": lock.headers["lock-token"]}).status == 204
    assert api(team.editor).post(f"{API}/items/{team.doc.pk}/versions/", json=new_version).status_code == 201
