"""WebDAV and WOPI locks bind each other: a file open for editing in an office server is
locked for desktop clients, and a file a desktop client locked opens read-only in the office
server (its Lock is refused). Real PostgreSQL and S3; the DAV application is called in
process, the WOPI endpoints through Django's test client as Collabora calls them."""

from __future__ import annotations

import pytest

from drive_app.dav import build_wsgi_application
from drive_app.models import DavLock, FileVersion, Item
from tests.conftest import assert_error
from tests.drive_app.clamd import EICAR, clamd  # noqa: F401  (fixture)
from tests.drive_app.conftest import API, upload_file
from tests.drive_app.test_dav import LOCK_BODY, Dav, dav_error
from tests.drive_app.test_wopi import V1, Editor, office, team  # noqa: F401  (fixtures)

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


# --- the REST API honours both kinds of lock (services.locks) ---------------------------------------


def _locked(response, locked_by: str, where: str, code: str = "item_locked") -> None:
    assert_error(response, 423, code)
    assert response.json()["error"]["details"] == {"locked_by": locked_by, "where": where}


def _other_folder(api, user) -> str:
    created = api(user).post(f"{API}/items/", json={"type": "folder", "title": "Archives"})
    assert created.status_code == 201, created.content
    return created.json()["id"]


@pytest.mark.parametrize("holder", ["office_editor", "webdav"])
def test_the_api_does_not_rename_move_or_delete_a_locked_file(api, client, team, desktop, holder):  # noqa: F811
    """What a DAV client without the lock token may not do, the API may not either: the
    locked file keeps its name, place and versions; nothing changed in the database."""
    if holder == "office_editor":
        editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
        assert editor.lock("session-A").status_code == 200
    else:
        assert desktop("LOCK", DOC, LOCK_BODY).status == 200
    archives = _other_folder(api, team.owner)
    owner, doc = api(team.owner), f"{API}/items/{team.doc.pk}"
    first = FileVersion.objects.get(item=team.doc)

    _locked(owner.patch(f"{doc}/", json={"title": "autre.odt"}), holder, "item")
    _locked(owner.post(f"{doc}/move/", json={"parent": archives}), holder, "item")
    _locked(owner.delete(f"{doc}/"), holder, "item")
    _locked(owner.delete(f"{doc}/?hard=true"), holder, "item")
    assert_error(owner.post(f"{doc}/versions/{first.pk}/restore/", json={}), 423, "file_locked")
    # Sharing settings and copies do not touch the file: allowed.
    assert owner.patch(f"{doc}/", json={"link_reach": "authenticated"}).status_code == 200
    assert owner.post(f"{doc}/copy/", json={"parent": archives}).status_code == 201

    team.doc.refresh_from_db()
    assert (team.doc.title, team.doc.parent_id, team.doc.deleted_at) == ("rapport.odt", team.folder.pk, None)
    assert FileVersion.objects.filter(item=team.doc).count() == 1


def test_a_folder_with_a_lock_inside_keeps_its_name_and_place(api, client, team, desktop):  # noqa: F811
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("session-A").status_code == 200
    archives = _other_folder(api, team.owner)
    owner, folder = api(team.owner), f"{API}/items/{team.folder.pk}"

    _locked(owner.patch(f"{folder}/", json={"title": "Projets 2026"}), "office_editor", "below")
    _locked(owner.post(f"{folder}/move/", json={"parent": archives}), "office_editor", "below")
    _locked(owner.delete(f"{folder}/"), "office_editor", "below")
    assert editor.unlock("session-A").status_code == 200

    # A desktop client's lock on a file inside, as deep as it goes.
    sub = owner.post(f"{API}/items/", json={"type": "folder", "title": "Notes", "parent": str(team.folder.pk)})
    assert desktop("PUT", "/Projets/Notes/idée.txt", b"une idee").status == 201
    assert desktop("LOCK", "/Projets/Notes/idée.txt", LOCK_BODY).status == 200
    _locked(owner.delete(f"{folder}/"), "webdav", "below")
    _locked(owner.patch(f"{API}/items/{sub.json()['id']}/", json={"title": "Brouillons"}), "webdav", "below")
    # The file beside it is not locked: it moves.
    assert owner.post(f"{API}/items/{team.doc.pk}/move/", json={"parent": archives}).status_code == 200
    team.folder.refresh_from_db()
    assert (team.folder.title, team.folder.deleted_at) == ("Projets", None)


def test_a_folder_a_desktop_client_locked_keeps_its_members(api, client, team, desktop):  # noqa: F811
    """A lock on a folder, even depth 0, protects the list of its members (RFC 4918 7.4):
    nothing enters or leaves it through the API; its files' contents stay writable."""
    owner, editor_api = api(team.owner), api(team.editor)
    trashed = upload_file(api, team.owner, "ancien.txt", b"old", parent=str(team.folder.pk)).json()
    assert owner.delete(f"{API}/items/{trashed['id']}/").status_code == 204
    archives = _other_folder(api, team.owner)
    outside = upload_file(api, team.owner, "dehors.txt", b"out").json()
    lock = desktop("LOCK", "/Projets/", LOCK_BODY, {"Depth": "0"})
    assert lock.status == 200
    inside = str(team.folder.pk)

    _locked(editor_api.post(f"{API}/items/", json={"type": "folder", "title": "Neuf", "parent": inside}),
            "webdav", "folder")
    _locked(editor_api.post(f"{API}/items/", json={"type": "file", "title": "neuf.txt", "size": 3, "parent": inside}),
            "webdav", "folder")
    _locked(owner.post(f"{API}/items/{outside['id']}/copy/", json={"parent": inside}), "webdav", "folder")
    _locked(owner.post(f"{API}/items/{outside['id']}/move/", json={"parent": inside}), "webdav", "folder")
    _locked(owner.post(f"{API}/items/{team.doc.pk}/move/", json={"parent": archives}), "webdav", "folder")
    _locked(owner.patch(f"{API}/items/{team.doc.pk}/", json={"title": "autre.odt"}), "webdav", "folder")
    _locked(owner.delete(f"{API}/items/{team.doc.pk}/"), "webdav", "folder")
    _locked(owner.post(f"{API}/items/{trashed['id']}/restore/"), "webdav", "folder")
    # The office editor cannot rename a member either (as a DAV lock on the file: 409).
    office_editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    renamed = office_editor.rename("autre")
    assert renamed.status_code == 409 and renamed["X-WOPI-LockFailureReason"] == "Locked by a WebDAV client"
    # A member's contents are not the folder's: a new version goes through.
    assert editor_api.post(f"{API}/items/{team.doc.pk}/versions/", json={"size": 3}).status_code == 201
    assert sorted(Item.objects.filter(parent=team.folder).values_list("title", flat=True)) == [
        "ancien.txt", "rapport.odt"]

    assert desktop("UNLOCK", "/Projets/", headers={"Lock-Token": lock.headers["lock-token"]}).status == 204
    assert editor_api.post(f"{API}/items/", json={"type": "folder", "title": "Neuf", "parent": inside}).status_code == 201
    assert office_editor.rename("autre").status_code == 200


def test_a_desktop_client_moves_and_deletes_what_it_locked_itself(team, desktop):  # noqa: F811
    """The DAV layer checks the client's own lock tokens, then calls the services without
    their lock check: the holder of the lock renames, moves into a folder it locked, and
    deletes."""
    file_lock = desktop("LOCK", DOC, LOCK_BODY).headers["lock-token"]
    assert desktop("MKCOL", "/Projets/Sous/").status == 201
    folder_lock = desktop("LOCK", "/Projets/Sous/", LOCK_BODY, {"Depth": "0"}).headers["lock-token"]
    moved = desktop("MOVE", DOC, headers={"Destination": desktop.url("/Projets/Sous/final.odt"),
                                          "If": f"({file_lock}) ({folder_lock})"})
    assert moved.status == 201, moved.body
    assert Item.objects.get(pk=team.doc.pk).title == "final.odt"
    assert desktop("MKCOL", "/Projets/Sous/Annexes/", headers={"If": f"({folder_lock})"}).status == 201
    # The token of the folder's lock, tagged with the folder (the request's own URL is not locked).
    deleted = desktop("DELETE", "/Projets/Sous/Annexes/",
                      headers={"If": f"<{desktop.url('/Projets/Sous/')}> ({folder_lock})"})
    assert deleted.status == 204, deleted.body


def test_save_as_into_a_folder_a_desktop_client_locked_is_refused(api, client, team, desktop):  # noqa: F811
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    lock = desktop("LOCK", "/Projets/", LOCK_BODY, {"Depth": "0"})
    assert lock.status == 200
    saved_as = editor.put_relative(b"export", **{"X-WOPI-SuggestedTarget": ".txt"})
    assert saved_as.status_code == 409 and saved_as["X-WOPI-LockFailureReason"] == "Locked by a WebDAV client"
    assert sorted(Item.objects.filter(parent=team.folder).values_list("title", flat=True)) == ["rapport.odt"]
    # Saving the open file itself is not a change of the folder's members.
    assert editor.lock("session-A").status_code == 200
    assert editor.put_file(b"saved by the editor", lock_id="session-A").status_code == 200
    assert desktop("UNLOCK", "/Projets/", headers={"Lock-Token": lock.headers["lock-token"]}).status == 204
    assert editor.put_relative(b"export", **{"X-WOPI-SuggestedTarget": ".txt"}).status_code == 200


def test_an_infected_save_from_the_office_editor_is_a_failed_save(api, client, team, settings, clamd):  # noqa: F811
    """The editor must not believe the document is stored: the version is kept aside, never
    served, and the save answers an error (the file keeps serving its last clean version)."""
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = clamd["socket"]
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    before = editor.check_file_info().json()["Version"]
    assert editor.lock("session-A").status_code == 200

    saved = editor.put_file(b"Bonjour\n" + EICAR + b"\n", lock_id="session-A")
    assert saved.status_code == 422, saved.content
    assert saved.json()["error"]["code"] == "infected"
    assert editor.check_file_info().json()["Version"] == before
    assert b"".join(editor.get_file().streaming_content) == V1
    assert FileVersion.objects.filter(item=team.doc, state="infected").count() == 1
    saved_as = editor.put_relative(b"Bonjour\n" + EICAR + b"\n", **{"X-WOPI-SuggestedTarget": ".txt"})
    assert saved_as.status_code == 422 and saved_as.json()["error"]["code"] == "infected"


def test_an_office_lock_waits_for_a_desktop_lock_being_taken_at_the_same_moment(team):  # noqa: F811
    """Each kind of lock checks the other before it is taken: without one serialization for
    both, a DAV LOCK and a WOPI Lock arriving together could both succeed on one file."""
    import datetime as dt

    from django.utils import timezone

    from drive_app.dav.locks import normalize_lock_root, serialize_lock_taking
    from drive_app.dav.namespace import ref_of
    from drive_app.wopi import locks as wopi_locks
    from tests.concurrency import waits_for

    outcome = {}

    def desktop_client_locking() -> None:  # its lock is committed only once the office waits
        serialize_lock_taking()
        DavLock.objects.create(
            token="opaquelocktoken:race", root=normalize_lock_root(ref_of(team.doc)),
            data={"type": "write", "scope": "exclusive", "depth": "0", "principal": team.owner.email},
            expires_at=timezone.now() + dt.timedelta(minutes=10))

    def office_editor_locking() -> None:
        try:
            wopi_locks.lock(item_id=team.doc.pk, lock_id="session-A", user=team.editor)
            outcome["office"] = "locked"
        except wopi_locks.LockMismatch as refused:
            outcome["office"] = refused.headers["X-WOPI-LockFailureReason"]

    waits_for(desktop_client_locking, office_editor_locking)
    assert outcome["office"] == "Locked by a WebDAV client"
    assert wopi_locks.current_lock(team.doc.pk) == ""
