"""The WOPI host, driven as an office server (Collabora Online, OnlyOffice) drives it: the
frontend asks the API for the editor URL and a token, then the office server calls
``/wopi/files/<id>`` with that token (CheckFileInfo, GetFile, the lock operations, PutFile,
PutRelativeFile, RenameFile), with the headers and status codes of the protocol.

The office server's discovery XML is served by a small HTTP server started here, standing in
for ``/hosting/discovery`` (the office server itself cannot run in the tests). Files live on
the session's real S3 and PostgreSQL.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import threading
import time
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from django.db import connections
from django.test import Client
from django.utils import timezone

from drive_app.models import FileVersion, Item, WopiLock
from drive_app.wopi import discovery, tokens
from drive_app.wopi.tokens import Mode
from suite.access.roles import Role
from tests.asgi import asgi_get, body_chunks
from tests.conftest import assert_error
from tests.drive_app.conftest import API, sha256, upload_file
from tests.drive_app.factories import grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

COLLABORA = "http://office.test:9980/browser/0b27e85/cool.html?"
ONLYOFFICE_CELL = (
    "http://onlyoffice.test/hosting/wopi/cell/edit?&<rs=DC_LLCC&><dchat=DISABLE_CHAT&>"
    "<hid=HOST_SESSION_ID&><ui=UI_LLCC&><wopisrc=WOPI_SOURCE&>&"
)
DISCOVERY_XML = f"""<?xml version="1.0" encoding="utf-8"?>
<wopi-discovery>
  <net-zone name="internal-http">
    <app name="writer"><action ext="odt" name="edit" urlsrc="http://internal.office.test/cool.html?"/></app>
  </net-zone>
  <net-zone name="external-http">
    <app favIconUrl="http://office.test:9980/favicon.ico" name="writer">
      <action default="true" ext="odt" name="edit" urlsrc="{COLLABORA}"/>
      <action ext="docx" name="edit" urlsrc="{COLLABORA}"/>
      <action ext="txt" name="edit" urlsrc="{COLLABORA}"/>
    </app>
    <app name="draw"><action ext="pdf" name="view" urlsrc="{COLLABORA}"/></app>
    <app name="calc"><action ext="xlsx" name="edit" urlsrc="{ONLYOFFICE_CELL.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}"/></app>
    <app name="application/vnd.oasis.opendocument.text"><action ext="" name="edit" urlsrc="{COLLABORA}"/></app>
    <app name="broken"><action ext="bad" name="edit" urlsrc="javascript:alert(1)"/></app>
  </net-zone>
</wopi-discovery>
""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<wopi-discovery><net-zone name="external-http"><app name="&lol3;"/></net-zone></wopi-discovery>
"""


def odt(text: str) -> bytes:
    """A minimal OpenDocument text (what the type check recognises as one)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr(
            "content.xml",
            '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:'
            f'opendocument:xmlns:office:1.0"><office:body>{text}</office:body></office:document-content>',
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
V1 = odt("Rapport annuel, version 1")
V2 = odt("Rapport annuel, version 2, relue")


# --- the office server's discovery -------------------------------------------------------------------


class DiscoveryServer:
    """``/hosting/discovery`` on a free local port; ``body`` and ``hits`` for the tests."""

    def __init__(self) -> None:
        self.body = DISCOVERY_XML
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
                server.hits += 1
                if self.path != "/hosting/discovery":
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hosting/discovery"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def office(settings):
    server = DiscoveryServer()
    settings.WOPI_DISCOVERY_URL = server.url
    settings.WOPI_HOST_URL = "http://testserver"
    settings.SUITE_PUBLIC_URL = "https://drive.example.org"
    yield server
    server.stop()


# --- what an office server does ------------------------------------------------------------------------


class Editor:
    """One editing session of an office server on one file, speaking WOPI as Collabora does."""

    def __init__(self, client: Client, wopi_src: str, token: str):
        self.client = client
        self.path = urlsplit(wopi_src).path
        self.token = token

    @classmethod
    def open(cls, client: Client, api, user, item_id) -> tuple[Editor, dict]:
        """Ask the API for the editor as the frontend does, then read WOPISrc and the token."""
        response = api(user).get(f"{API}/items/{item_id}/wopi/")
        assert response.status_code == 200, response.content
        session = response.json()
        wopi_src = parse_qs(urlsplit(session["url"]).query)["WOPISrc"][0]
        return cls(client, wopi_src, session["access_token"]), session

    def _url(self, suffix: str = "") -> str:
        return f"{self.path}{suffix}?access_token={quote(self.token, safe='')}"

    def _post(self, suffix: str, override: str, body: bytes = b"", **headers: str):
        return self.client.post(self._url(suffix), data=body, content_type="application/octet-stream",
                                headers={"X-WOPI-Override": override, **headers})

    def check_file_info(self):
        return self.client.get(self._url())

    def get_file(self, **headers: str):
        return self.client.get(self._url("/contents"), headers=headers)

    def lock(self, lock_id: str, old: str | None = None):
        extra = {"X-WOPI-OldLock": old} if old is not None else {}
        return self._post("", "LOCK", **{"X-WOPI-Lock": lock_id}, **extra)

    def get_lock(self):
        return self._post("", "GET_LOCK")

    def refresh_lock(self, lock_id: str):
        return self._post("", "REFRESH_LOCK", **{"X-WOPI-Lock": lock_id})

    def unlock(self, lock_id: str):
        return self._post("", "UNLOCK", **{"X-WOPI-Lock": lock_id})

    def put_file(self, body: bytes, lock_id: str | None = None, **headers: str):
        if lock_id is not None:
            headers["X-WOPI-Lock"] = lock_id
        return self._post("/contents", "PUT", body, **headers)

    def put_relative(self, body: bytes, **headers: str):
        return self._post("", "PUT_RELATIVE", body, **{"X-WOPI-Size": str(len(body)), **headers})

    def rename(self, name: str, lock_id: str | None = None):
        headers = {"X-WOPI-RequestedName": name.encode("utf-7").decode("ascii")}
        if lock_id is not None:
            headers["X-WOPI-Lock"] = lock_id
        return self._post("", "RENAME_FILE", **headers)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def download(api, user, item_id) -> bytes:
    """The file's current bytes through the REST API (302 to a presigned S3 GET)."""
    response = api(user).get(f"{API}/items/{item_id}/download/")
    assert response.status_code == 302, response.content
    return requests.get(response["Location"], timeout=10).content


@pytest.fixture
def team(api, office):
    """A folder of its owner shared with an editor and a reader, holding ``rapport.odt``."""
    owner, editor, reader, stranger = (UserFactory(full_name=name) for name in ("Ana", "Ben", "Chloé", "Dan"))
    created = api(owner).post(f"{API}/items/", json={"type": "folder", "title": "Projets"})
    assert created.status_code == 201, created.content
    folder = Item.objects.get(pk=created.json()["id"])
    accesses = {"editor": grant(folder, Role.EDITOR, user=editor), "reader": grant(folder, Role.READER, user=reader)}
    uploaded = upload_file(api, owner, "rapport.odt", V1, parent=str(folder.pk))
    assert uploaded.status_code == 200, uploaded.content
    doc = Item.objects.get(pk=uploaded.json()["id"])
    return SimpleNamespace(owner=owner, editor=editor, reader=reader, stranger=stranger, folder=folder,
                           doc=doc, accesses=accesses)


# --- opening a file: the API -------------------------------------------------------------------------------


def test_editor_gets_edit_url_and_token(api, client, team, office):
    response = api(team.editor).get(f"{API}/items/{team.doc.pk}/wopi/")
    assert response.status_code == 200, response.content
    session = response.json()
    assert set(session) == {"url", "access_token", "access_token_ttl", "action"}
    assert session["action"] == "edit"
    wopi_src = f"http://testserver/wopi/files/{team.doc.pk}"
    assert session["url"] == f"{COLLABORA}WOPISrc={quote(wopi_src, safe='')}"
    expected_ms = (time.time() + 36000) * 1000
    assert abs(session["access_token_ttl"] - expected_ms) < 60_000
    # The token works on this file, with write access.
    editor = Editor(client, wopi_src, session["access_token"])
    assert editor.check_file_info().json()["UserCanWrite"] is True
    # The discovery is cached: a second opening does not ask the office server again.
    assert api(team.owner).get(f"{API}/items/{team.doc.pk}/wopi/").status_code == 200
    assert office.hits == 1


def test_reader_gets_a_view_session(api, client, team):
    editor, session = Editor.open(client, api, team.reader, team.doc.pk)
    assert session["action"] == "view"
    info = editor.check_file_info().json()
    assert info["UserCanWrite"] is False and info["ReadOnly"] is True
    assert info["UserCanRename"] is False and info["UserCanNotWriteRelative"] is True


def test_view_only_type_gets_a_view_token_even_for_an_editor(api, client, team):
    item = upload_file(api, team.owner, "scan.pdf", PDF, parent=str(team.folder.pk)).json()
    editor, session = Editor.open(client, api, team.editor, item["id"])
    assert session["action"] == "view"
    assert editor.check_file_info().json()["UserCanWrite"] is False


def test_file_without_extension_found_by_its_type(api, client, team):
    item = upload_file(api, team.owner, "rapport sans extension", V1, parent=str(team.folder.pk)).json()
    assert item["mimetype"] == "application/vnd.oasis.opendocument.text"
    _editor, session = Editor.open(client, api, team.editor, item["id"])
    assert session["action"] == "edit" and session["url"].startswith(COLLABORA)


def test_editor_endpoint_refusals(api, client, team, settings):
    url = f"{API}/items/{team.doc.pk}/wopi/"
    assert_error(client.get(url), 401, "not_authenticated")
    assert_error(api(team.stranger).get(url), 404, "not_found")
    assert_error(api(team.owner).get(f"{API}/items/{team.folder.pk}/wopi/"), 422, "not_a_file")
    assert_error(api(team.owner).get(f"{API}/items/not-an-id/wopi/"), 404, "not_found")
    notes = upload_file(api, team.owner, "notes.md", b"# Notes\n", parent=str(team.folder.pk)).json()
    error = assert_error(api(team.owner).get(f"{API}/items/{notes['id']}/wopi/"), 422, "no_office_editor")
    assert error["details"]["extension"] == ".md"
    pending = api(team.owner).post(f"{API}/items/", json={"type": "file", "title": "vide.odt", "size": 3,
                                                          "parent": str(team.folder.pk)}).json()
    assert_error(api(team.owner).get(f"{API}/items/{pending['id']}/wopi/"), 409, "file_not_ready")
    # No office server configured: WOPI is off, and says so.
    settings.WOPI_DISCOVERY_URL = ""
    error = assert_error(api(team.owner).get(url), 404, "wopi_disabled")
    assert "WOPI_DISCOVERY_URL" in error["message"]


def test_editor_endpoint_when_the_office_server_fails(api, team, office, settings):
    url = f"{API}/items/{team.doc.pk}/wopi/"
    office.body = b"<html>Bad gateway</html"
    assert_error(api(team.owner).get(url), 502, "office_discovery_invalid")
    # Entity expansion is refused, not performed (defusedxml).
    office.body = BILLION_LAUGHS
    assert_error(api(team.owner).get(url), 502, "office_discovery_invalid")
    office.stop()
    assert_error(api(team.owner).get(url), 503, "office_unavailable")


def test_editor_url_placeholders_filled_or_removed():
    wopi_src = "https://drive.example.org/wopi/files/42"
    url = discovery.editor_url(ONLYOFFICE_CELL, wopi_src=wopi_src, language="fr")
    assert url == ("http://onlyoffice.test/hosting/wopi/cell/edit?rs=fr&ui=fr&wopisrc="
                   "https%3A%2F%2Fdrive.example.org%2Fwopi%2Ffiles%2F42")
    assert discovery.editor_url("https://o.test/edit?a=1", wopi_src=wopi_src, language="en") == (
        "https://o.test/edit?a=1&WOPISrc=https%3A%2F%2Fdrive.example.org%2Fwopi%2Ffiles%2F42")
    assert discovery.editor_url("https://o.test/edit", wopi_src=wopi_src, language="en").startswith(
        "https://o.test/edit?WOPISrc=")


def test_discovery_prefers_the_external_zone_and_skips_unsafe_urls():
    parsed = discovery.parse(DISCOVERY_XML)
    assert parsed.find(extension="odt", mimetype="", actions=["edit"]) == ("edit", COLLABORA)
    assert parsed.find(extension="pdf", mimetype="", actions=["edit", "view"]) == ("view", COLLABORA)
    assert parsed.find(extension="bad", mimetype="", actions=["edit", "view"]) is None
    assert parsed.find(extension="", mimetype="application/vnd.oasis.opendocument.text",
                       actions=["edit"]) == ("edit", COLLABORA)


def test_file_name_headers_in_utf7_or_utf8():
    from drive_app.wopi.operations import from_utf7, utf7

    assert utf7("Synthèse+été.odt").isascii()
    assert from_utf7(utf7("Synthèse+été.odt")) == "Synthèse+été.odt"
    assert from_utf7("Synth+AOg-se+-+AOk-t+AOk-.odt") == "Synthèse+été.odt"  # as iconv encodes it
    # Raw UTF-8 (header bytes arrive decoded as latin-1).
    assert from_utf7("Synthèse.odt".encode().decode("latin-1")) == "Synthèse.odt"
    assert from_utf7(None) is None


# --- CheckFileInfo and GetFile -----------------------------------------------------------------------------


def test_check_file_info_as_collabora_reads_it(api, client, team, django_assert_max_num_queries):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    with django_assert_max_num_queries(5):
        response = editor.check_file_info()
    assert response.status_code == 200, response.content
    info = response.json()
    version = FileVersion.objects.get(item=team.doc)
    assert info["BaseFileName"] == "rapport.odt" and info["FileExtension"] == ".odt"
    assert info["Size"] == len(V1)
    assert info["Version"] == str(version.pk) == response["X-WOPI-ItemVersion"]
    assert info["SHA256"] == base64.b64encode(bytes.fromhex(sha256(V1))).decode()
    assert info["OwnerId"] == str(team.owner.pk)
    assert info["UserId"] == str(team.editor.pk) and info["UserFriendlyName"] == "Ben"
    assert info["UserCanWrite"] is True and info["ReadOnly"] is False and info["UserCanRename"] is True
    assert info["UserCanNotWriteRelative"] is False
    for flag in ("SupportsLocks", "SupportsGetLock", "SupportsUpdate", "SupportsRename",
                 "SupportsExtendedLockLength"):
        assert info[flag] is True, flag
    assert info["PostMessageOrigin"] == "https://drive.example.org"
    assert dt.datetime.fromisoformat(info["LastModifiedTime"]) == version.uploaded_at
    assert response["Cache-Control"] == "no-store"


def test_get_file_streams_the_current_version(api, client, team):
    editor, _session = Editor.open(client, api, team.reader, team.doc.pk)
    response = editor.get_file()
    assert response.status_code == 200 and response.streaming
    assert body_of(response) == V1
    assert response["Content-Length"] == str(len(V1))
    assert response["X-WOPI-ItemVersion"] == str(team.doc.current_version_id)
    too_small = editor.get_file(**{"X-WOPI-MaxExpectedSize": str(len(V1) - 1)})
    assert too_small.status_code == 412
    assert editor.get_file(**{"X-WOPI-MaxExpectedSize": "lots"}).status_code == 400


def test_get_file_streams_under_asgi(api, client, team):
    """Through Django's ASGI handler (``uvicorn suite.asgi``), which reads a synchronous body
    whole into a list before sending it (and warns): GetFile must not give it one."""
    editor, _session = Editor.open(client, api, team.reader, team.doc.pk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = asgi_get(editor._url("/contents"), {})
    assert not [w for w in caught if "iterators" in str(w.message)], [str(w.message) for w in caught]
    assert messages[0]["status"] == 200
    assert b"".join(body_chunks(messages)) == V1


# --- locks ---------------------------------------------------------------------------------------------------


def test_lock_cycle_with_right_and_wrong_lock_ids(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    version = str(team.doc.current_version_id)
    locked = editor.lock("lock-A")
    assert locked.status_code == 200 and locked["X-WOPI-ItemVersion"] == version
    assert editor.get_lock()["X-WOPI-Lock"] == "lock-A"
    assert editor.lock("lock-A").status_code == 200  # the same id again: a refresh
    for response in (editor.lock("lock-B"), editor.refresh_lock("lock-B"), editor.unlock("lock-B"),
                     editor.lock("lock-C", old="lock-B")):
        assert response.status_code == 409, response.content
        assert response["X-WOPI-Lock"] == "lock-A"
        assert response["X-WOPI-LockFailureReason"]
    assert editor.refresh_lock("lock-A").status_code == 200
    relocked = editor.lock("lock-C", old="lock-A")  # UnlockAndRelock
    assert relocked.status_code == 200 and relocked["X-WOPI-ItemVersion"] == version
    assert editor.get_lock()["X-WOPI-Lock"] == "lock-C"
    assert editor.unlock("lock-C").status_code == 200
    unlocked = editor.get_lock()
    assert unlocked.status_code == 200 and unlocked["X-WOPI-Lock"] == ""
    # Unlocked: unlock, refresh and relock are lock mismatches with an empty current lock.
    for response in (editor.unlock("lock-C"), editor.refresh_lock("lock-C"), editor.lock("lock-D", old="lock-C")):
        assert response.status_code == 409 and response["X-WOPI-Lock"] == ""


def test_lock_ids_up_to_1024_characters(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("x" * 1025).status_code == 400
    assert editor.lock("").status_code == 400
    assert editor.lock("x" * 1024).status_code == 200
    assert editor.get_lock()["X-WOPI-Lock"] == "x" * 1024


def test_lock_lasts_30_minutes_then_expires(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("lock-A").status_code == 200
    lock = WopiLock.objects.get(item=team.doc)
    assert abs((lock.expires_at - timezone.now()) - dt.timedelta(minutes=30)) < dt.timedelta(seconds=10)
    assert lock.created_by == team.editor
    # A refresh starts another 30 minutes.
    WopiLock.objects.filter(pk=lock.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert editor.refresh_lock("lock-A").status_code == 200
    lock.refresh_from_db()
    assert lock.expires_at - timezone.now() > dt.timedelta(minutes=29)
    # Thirty minutes without a refresh: the lock is gone and another session may lock.
    WopiLock.objects.filter(pk=lock.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert editor.get_lock()["X-WOPI-Lock"] == ""
    assert editor.refresh_lock("lock-A")["X-WOPI-Lock"] == ""
    other, _session = Editor.open(client, api, team.owner, team.doc.pk)
    assert other.lock("lock-B").status_code == 200
    assert editor.get_lock()["X-WOPI-Lock"] == "lock-B"


def test_concurrent_locks_one_wins(api, team):
    _editor, session = Editor.open(Client(), api, team.editor, team.doc.pk)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def attempt(lock_id: str) -> None:
        editor = Editor(Client(), f"http://testserver/wopi/files/{team.doc.pk}", session["access_token"])
        barrier.wait()
        try:
            results.append(editor.lock(lock_id).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(f"lock-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409, 409]
    assert WopiLock.objects.filter(item=team.doc).count() == 1


# --- PutFile -------------------------------------------------------------------------------------------------


def test_put_file_without_lock_on_a_non_empty_file_is_refused(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    response = editor.put_file(V2)
    assert response.status_code == 409 and response["X-WOPI-Lock"] == ""
    assert FileVersion.objects.filter(item=team.doc).count() == 1
    assert download(api, team.owner, team.doc.pk) == V1


def test_put_file_with_the_lock_creates_a_version(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("lock-A").status_code == 200
    response = editor.put_file(V2, "lock-A", **{"X-COOL-WOPI-IsModifiedByUser": "true",
                                                "X-COOL-WOPI-IsAutosave": "false"})
    assert response.status_code == 200, response.content
    versions = list(FileVersion.objects.filter(item=team.doc).order_by("number"))
    assert len(versions) == 2 and versions[1].state == "ready" and versions[1].uploaded_by == team.editor
    assert response["X-WOPI-ItemVersion"] == str(versions[1].pk)
    assert dt.datetime.fromisoformat(response.json()["LastModifiedTime"]) == versions[1].uploaded_at
    assert download(api, team.owner, team.doc.pk) == V2
    info = editor.check_file_info().json()
    assert info["Version"] == str(versions[1].pk) and info["Size"] == len(V2)
    assert body_of(editor.get_file()) == V2
    # The lock stays; a save with another lock id is refused with the current one.
    wrong = editor.put_file(V1, "lock-B")
    assert wrong.status_code == 409 and wrong["X-WOPI-Lock"] == "lock-A"
    assert FileVersion.objects.filter(item=team.doc).count() == 2


def test_put_file_on_an_empty_unlocked_file_is_allowed(api, client, team):
    empty = upload_file(api, team.owner, "nouveau.odt", b"", parent=str(team.folder.pk)).json()
    editor, _session = Editor.open(client, api, team.editor, empty["id"])
    assert editor.put_file(V1).status_code == 200
    assert download(api, team.owner, empty["id"]) == V1
    # Not empty any more: the next unlocked save is a conflict.
    assert editor.put_file(V2).status_code == 409


def test_put_file_when_the_file_changed_meanwhile_is_collabora_doc_changed(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    seen = editor.check_file_info().json()["LastModifiedTime"]
    assert editor.lock("lock-A").status_code == 200
    saved = editor.put_file(V2, "lock-A", **{"X-COOL-WOPI-Timestamp": seen})
    assert saved.status_code == 200
    # A save based on the old copy: Collabora's "document changed" answer, nothing written.
    stale = editor.put_file(V1, "lock-A", **{"X-COOL-WOPI-Timestamp": seen})
    assert stale.status_code == 409 and stale.json()["COOLStatusCode"] == 1010
    assert download(api, team.owner, team.doc.pk) == V2
    fresh = editor.put_file(V1, "lock-A", **{"X-COOL-WOPI-Timestamp": saved.json()["LastModifiedTime"]})
    assert fresh.status_code == 200
    assert FileVersion.objects.filter(item=team.doc).count() == 3


def test_put_file_rejected_bytes_are_not_served(api, client, team):
    pdf = upload_file(api, team.owner, "scan.pdf", PDF, parent=str(team.folder.pk)).json()
    editor = Editor(client, f"http://testserver/wopi/files/{pdf['id']}",
                    tokens.issue(user=team.editor, item_id=pdf["id"], mode=Mode.EDIT)[0])
    assert editor.lock("lock-A").status_code == 200
    assert_error(editor.put_file(b"not a pdf at all", "lock-A"), 422, "type_mismatch")
    assert download(api, team.owner, pdf["id"]) == PDF


# --- PutRelativeFile --------------------------------------------------------------------------------------


def test_put_relative_suggested_target_never_overwrites(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    response = editor.put_relative(V2, **{"X-WOPI-SuggestedTarget": ".odt"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["Name"] == "rapport (2).odt"
    created = Item.objects.get(parent=team.folder, title="rapport (2).odt")
    assert download(api, team.owner, created.pk) == V2
    # The Url is the new file's WOPISrc with a token for it.
    url = urlsplit(body["Url"])
    assert url.path == f"/wopi/files/{created.pk}"
    new_session = Editor(client, body["Url"], parse_qs(url.query)["access_token"][0])
    assert new_session.check_file_info().json()["BaseFileName"] == "rapport (2).odt"
    # A full name in UTF-7, adjusted when taken.
    named = editor.put_relative(V2, **{"X-WOPI-SuggestedTarget": "Synthèse/été.odt".encode("utf-7").decode()})
    assert named.json()["Name"] == "Synthèse_été.odt"
    again = editor.put_relative(V2, **{"X-WOPI-SuggestedTarget": "Synthèse_été.odt".encode("utf-7").decode()})
    assert again.json()["Name"] == "Synthèse_été (2).odt"
    assert Item.objects.get(pk=team.doc.pk).current_version_id == team.doc.current_version_id


def test_put_relative_specific_target_rules(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    # Taken, no overwrite: 409 with a name that is free.
    taken = editor.put_relative(V2, **{"X-WOPI-RelativeTarget": "rapport.odt"})
    assert taken.status_code == 409
    assert taken["X-WOPI-ValidRelativeTarget"].encode().decode("utf-7") == "rapport (2).odt"
    assert FileVersion.objects.filter(item=team.doc).count() == 1
    # Illegal name: 400 with a legal one.
    illegal = editor.put_relative(V2, **{"X-WOPI-RelativeTarget": "a/b.odt"})
    assert illegal.status_code == 400 and illegal["X-WOPI-ValidRelativeTarget"] == "a_b.odt"
    # Taken and locked: 409 with the lock, even with overwrite.
    assert editor.lock("lock-A").status_code == 200
    locked = editor.put_relative(V2, **{"X-WOPI-RelativeTarget": "rapport.odt",
                                        "X-WOPI-OverwriteRelativeTarget": "true"})
    assert locked.status_code == 409 and locked["X-WOPI-Lock"] == "lock-A"
    assert editor.unlock("lock-A").status_code == 200
    # Taken, overwrite, unlocked: a new version of that file.
    overwritten = editor.put_relative(V2, **{"X-WOPI-RelativeTarget": "rapport.odt",
                                             "X-WOPI-OverwriteRelativeTarget": "True"})
    assert overwritten.status_code == 200, overwritten.content
    assert overwritten.json()["Name"] == "rapport.odt"
    assert FileVersion.objects.filter(item=team.doc).count() == 2
    assert download(api, team.owner, team.doc.pk) == V2
    # A free name is used exactly.
    exact = editor.put_relative(V1, **{"X-WOPI-RelativeTarget": "Compte rendu.odt"})
    assert exact.status_code == 200 and exact.json()["Name"] == "Compte rendu.odt"
    # Both modes at once, or none: a bad request.
    assert editor.put_relative(V1, **{"X-WOPI-RelativeTarget": "x.odt", "X-WOPI-SuggestedTarget": ".odt"}).status_code == 400
    assert editor.put_relative(V1).status_code == 400


def test_put_relative_needs_write_access_to_the_folder(api, client, team):
    editor, _session = Editor.open(client, api, team.reader, team.doc.pk)
    response = editor.put_relative(V2, **{"X-WOPI-SuggestedTarget": ".odt"})
    assert response.status_code == 401
    assert not Item.objects.filter(parent=team.folder, title="rapport (2).odt").exists()


# --- RenameFile ---------------------------------------------------------------------------------------------


def test_rename_file(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    renamed = editor.rename("Rapport d'activité")
    assert renamed.status_code == 200, renamed.content
    assert renamed.json() == {"Name": "Rapport d'activité"}
    assert Item.objects.get(pk=team.doc.pk).title == "Rapport d'activité.odt"
    # A full name with the same extension is taken whole.
    assert editor.rename("Bilan.odt").json() == {"Name": "Bilan"}
    # A taken name: the host picks a free one, as the specification asks.
    upload_file(api, team.owner, "Pris.odt", V2, parent=str(team.folder.pk))
    assert editor.rename("pris").json() == {"Name": "pris (2)"}
    assert Item.objects.get(pk=team.doc.pk).title == "pris (2).odt"


def test_rename_file_refusals(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    for bad in ("a/b", "", "   ", "tab\there"):
        response = editor.rename(bad)
        assert response.status_code == 400, bad
        assert response["X-WOPI-InvalidFileNameError"]
    assert editor.lock("lock-A").status_code == 200
    other_lock = editor.rename("Autre", lock_id="lock-B")
    assert other_lock.status_code == 409 and other_lock["X-WOPI-Lock"] == "lock-A"
    assert editor.rename("Autre").status_code == 409  # locked, and no lock id given
    assert editor.rename("Autre", lock_id="lock-A").status_code == 200
    reader, _session = Editor.open(client, api, team.reader, team.doc.pk)
    assert reader.rename("Lecteur").status_code == 401
    assert Item.objects.get(pk=team.doc.pk).title == "Autre.odt"


# --- tokens and roles -------------------------------------------------------------------------------------


def test_invalid_tokens_are_401(api, client, team):
    editor, session = Editor.open(client, api, team.editor, team.doc.pk)
    token = session["access_token"]
    wopi_src = f"http://testserver/wopi/files/{team.doc.pk}"
    expired, _ttl = tokens.issue(user=team.editor, item_id=team.doc.pk, mode=Mode.EDIT,
                                 expires_at=timezone.now() - dt.timedelta(seconds=1))
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    other = upload_file(api, team.owner, "autre.odt", V2, parent=str(team.folder.pk)).json()
    other_token, _ttl = tokens.issue(user=team.editor, item_id=other["id"], mode=Mode.EDIT)
    for bad in (expired, tampered, other_token, "", "garbage", token.upper()):
        assert Editor(client, wopi_src, bad).check_file_info().status_code == 401, bad
        assert Editor(client, wopi_src, bad).get_file().status_code == 401, bad
    assert client.get(f"/wopi/files/{team.doc.pk}").status_code == 401  # no token at all
    error = client.get(f"/wopi/files/{team.doc.pk}?access_token=x").json()["error"]
    assert error["code"] == "wopi_invalid_token"
    # The same token on a malformed id, or another id.
    assert client.get(f"/wopi/files/nope?access_token={quote(token)}").status_code == 401
    # Collabora may send the token as a bearer header too.
    bearer = client.get(f"/wopi/files/{team.doc.pk}", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200
    # A deactivated user's tokens stop working.
    team.editor.is_active = False
    team.editor.save()
    assert editor.check_file_info().status_code == 401


def test_view_tokens_cannot_write(api, client, team):
    reader, _session = Editor.open(client, api, team.reader, team.doc.pk)
    assert reader.get_file().status_code == 200
    assert reader.get_lock().status_code == 200
    for response in (reader.lock("lock-R"), reader.refresh_lock("lock-R"), reader.unlock("lock-R"),
                     reader.put_file(V2, "lock-R")):
        assert_error(response, 401, "wopi_invalid_token")
    # A view token of an editor does not write either: the token is a ceiling.
    view_token, _ttl = tokens.issue(user=team.editor, item_id=team.doc.pk, mode=Mode.VIEW)
    viewer = Editor(client, f"http://testserver/wopi/files/{team.doc.pk}", view_token)
    assert viewer.check_file_info().json()["UserCanWrite"] is False
    assert viewer.lock("lock-V").status_code == 401
    assert FileVersion.objects.filter(item=team.doc).count() == 1 and not WopiLock.objects.exists()


def test_role_downgraded_mid_session(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert editor.lock("lock-A").status_code == 200
    assert editor.put_file(V2, "lock-A").status_code == 200
    # The owner makes the editor a reader while the document is open.
    access = team.accesses["editor"]
    changed = api(team.owner).patch(f"{API}/items/{team.folder.pk}/accesses/{access.pk}", json={"role": "reader"})
    assert changed.status_code == 200, changed.content
    assert_error(editor.put_file(V1, "lock-A"), 401, "wopi_invalid_token")
    assert editor.refresh_lock("lock-A").status_code == 401
    assert editor.check_file_info().json()["UserCanWrite"] is False
    assert body_of(editor.get_file()) == V2  # still a reader
    assert FileVersion.objects.filter(item=team.doc).count() == 2
    # Access removed altogether: the file is unknown to the session.
    assert api(team.owner).delete(f"{API}/items/{team.folder.pk}/accesses/{access.pk}").status_code == 204
    assert editor.check_file_info().status_code == 404
    assert editor.get_file().status_code == 404


def test_trashed_file_is_unknown(api, client, team):
    editor, _session = Editor.open(client, api, team.owner, team.doc.pk)
    assert api(team.owner).delete(f"{API}/items/{team.doc.pk}/").status_code == 204
    assert_error(editor.check_file_info(), 404, "not_found")
    assert editor.lock("lock-A").status_code == 404


def test_folder_token_is_not_a_file(api, client, team):
    token, _ttl = tokens.issue(user=team.owner, item_id=team.folder.pk, mode=Mode.EDIT)
    assert Editor(client, f"http://testserver/wopi/files/{team.folder.pk}", token).check_file_info().status_code == 404


# --- the protocol's edges -------------------------------------------------------------------------------


def test_unsupported_overrides_and_methods(api, client, team):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    assert_error(editor._post("", "DELETE"), 501, "wopi_not_implemented")
    assert_error(editor._post("", "PUT_USER_INFO"), 501, "wopi_not_implemented")
    assert_error(editor._post("/contents", "LOCK"), 501, "wopi_not_implemented")
    response = client.delete(editor._url())
    assert response.status_code == 405 and response["Allow"] == "GET, POST"


def test_wopi_endpoints_off_without_an_office_server(api, client, team, settings):
    editor, _session = Editor.open(client, api, team.editor, team.doc.pk)
    settings.WOPI_DISCOVERY_URL = ""
    assert_error(editor.check_file_info(), 404, "wopi_disabled")
