"""WebDAV behaviour, in process: the DAV application called as a WSGI application (what
a2wsgi calls) on real PostgreSQL and SeaweedFS. Real clients (litmus, rclone) run against a
real server in ``test_dav_e2e.py``."""

from __future__ import annotations

import base64
import io
import sys
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from defusedxml import ElementTree as SafeET
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drive_app.dav import build_wsgi_application
from drive_app.dav.auth import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from drive_app.models import DavLock, DeadProperty, DriveUsage, FileVersion, Item, ItemType
from drive_app.services.items import folder_create, workspace_for
from drive_app.services.uploads import file_write
from suite.access.roles import Role
from tests.drive_app.clamd import EICAR, clamd  # noqa: F401
from tests.drive_app.factories import grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = "{DAV:}"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LOCK_BODY = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype><D:owner>tests</D:owner></D:lockinfo>"
)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def xml(self) -> ET.Element:
        return SafeET.fromstring(self.body)

    def hrefs(self) -> list[str]:
        return [element.text or "" for element in self.xml().iter(f"{D}href")]

    def prop(self, href_end: str, name: str) -> str | None:
        """The value of property ``name`` in the 200 propstat of the response whose href
        ends with ``href_end`` (None when it is not there)."""
        for response in self.xml().iter(f"{D}response"):
            if not (response.findtext(f"{D}href") or "").endswith(href_end):
                continue
            for propstat in response.iter(f"{D}propstat"):
                if "200" in (propstat.findtext(f"{D}status") or ""):
                    element = propstat.find(f"{D}prop/{name}")
                    if element is not None:
                        return element.text or ""
        return None


class Dav:
    """A DAV client calling the WSGI application directly, as one user."""

    def __init__(self, app, user, password: str):
        self.app = app
        self.user = user
        self.auth = "Basic " + base64.b64encode(f"{user.email}:{password}".encode()).decode()

    def __call__(self, method: str, path: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
                 auth: str | None = None, address: str = "192.0.2.10") -> Reply:
        data = body.encode() if isinstance(body, str) else body
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "/dav",
            # As the ASGI server gives it: percent-decoded, UTF-8 bytes seen as latin-1.
            "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": "", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "testserver", "REMOTE_ADDR": address,
            "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(data)), "HTTP_AUTHORIZATION": auth if auth is not None else self.auth,
        }
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        started: dict[str, object] = {}

        def start_response(status, response_headers, exc_info=None):
            started["status"] = int(status.split()[0])
            started["headers"] = {name.lower(): value for name, value in response_headers}

        iterable = self.app(environ, start_response)
        try:
            payload = b"".join(iterable)
        finally:
            getattr(iterable, "close", lambda: None)()
        reply = Reply(started["status"], started["headers"], payload)  # type: ignore[arg-type]
        # Every response is whole: a body shorter than announced is a truncated transfer.
        if method != "HEAD" and "content-length" in reply.headers:
            assert int(reply.headers["content-length"]) == len(payload), (reply.status, reply.headers, payload)
        return reply

    def url(self, path: str) -> str:
        return "http://testserver/dav" + quote(path)

    def propfind(self, path: str, depth: str = "1", props: list[str] | None = None) -> Reply:
        body = b""
        if props:
            body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
                    + "".join(f"<D:{name}/>" for name in props) + "</D:prop></D:propfind>").encode()
        return self("PROPFIND", path, body, {"Depth": depth})


def dav_error(reply: Reply, status: int, code: str | None = None) -> ET.Element:
    """The reply is a DAV:error document with ``status`` (and our ``code``)."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/xml"), reply.headers
    root = reply.xml()
    assert root.tag == f"{D}error", reply.body
    if code is not None:
        assert root.findtext("{urn:communs:dav}code") == code, reply.body
    assert root.findtext("{urn:communs:dav}message"), reply.body
    return root


@pytest.fixture
def app():
    return build_wsgi_application()


@pytest.fixture
def client_for(app, token_for):
    def make(user, scopes=("dav",)):
        return Dav(app, user, token_for(user, list(scopes)))

    return make


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def dav(client_for, owner):
    return client_for(owner)


def put_file(user, parent: Item, title: str, data: bytes) -> Item:
    return file_write(actor=user, body=io.BytesIO(data), size=len(data), parent_id=parent.pk, title=title)


# --- namespace ---------------------------------------------------------------------------------------


def test_root_lists_workspace_items_and_shared_entries_with_stable_names(client_for, owner):
    """Shared entries keep their titles, get an id suffix when a title is taken, and an
    item shared inside a shared folder is reached through that folder only."""
    alice, bob = UserFactory(), UserFactory()
    folder_create(actor=owner, title="Reports")
    theirs = folder_create(actor=alice, title="reports")  # collides with the owner's own
    plans = folder_create(actor=bob, title="Plans")
    inner = folder_create(actor=bob, title="Inner", parent_id=plans.pk)
    for item in (theirs, plans, inner):
        grant(item, Role.READER, user=owner)

    reply = client_for(owner).propfind("/", props=["displayname", "resourcetype"])

    assert reply.status == 207
    suffixed = f"reports ({theirs.pk.hex[:8]})"
    assert sorted(reply.hrefs()) == sorted(["/dav/", "/dav/Plans/", "/dav/Reports/", "/dav/" + quote(suffixed, safe="()") + "/"])
    assert reply.prop(quote(suffixed, safe="()") + "/", f"{D}displayname") == suffixed
    assert client_for(owner).propfind(f"/{suffixed}/", depth="0").status == 207
    assert client_for(owner).propfind("/Plans/Inner/", depth="0").status == 207
    assert client_for(owner).propfind("/Inner/", depth="0").status == 404


def test_names_resolve_case_and_normalization_insensitively(dav, owner):
    folder = folder_create(actor=owner, title="Été")
    put_file(owner, folder, "Café.txt", b"noir")
    decomposed = unicodedata.normalize("NFD", "/été/café.txt")  # what macOS clients send

    reply = dav("GET", decomposed)

    assert (reply.status, reply.body) == (200, b"noir")


def test_files_without_a_checked_version_are_not_listed(dav, owner, settings):
    settings.DRIVE_DENIED_TYPES = ["text/"]
    home = workspace_for(owner)
    reply = dav("PUT", "/rejected.txt", b"plain text is denied here")
    assert reply.status == 415
    assert Item.objects.filter(parent=home, title="rejected.txt").exists()  # kept, with its reason

    assert dav.propfind("/").hrefs() == ["/dav/"]
    assert dav("GET", "/rejected.txt").status == 404


def test_propfind_depth_infinity_is_refused_with_the_rfc_precondition(dav):
    for headers in ({"Depth": "infinity"}, {}):
        reply = dav("PROPFIND", "/", b"", headers)
        root = dav_error(reply, 403, "propfind_finite_depth")
        assert root.find(f"{D}propfind-finite-depth") is not None


def test_propfind_of_a_folder_costs_the_same_queries_whatever_its_size(dav, owner):
    def count(children: int) -> int:
        folder = folder_create(actor=owner, title=f"Folder {children}")
        for index in range(children):
            put_file(owner, folder, f"file {index}.txt", b"x" * index)
        dav("PROPPATCH", f"/Folder {children}/file 0.txt", (
            '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
            "<D:set><D:prop><Z:tag>a</Z:tag></D:prop></D:set></D:propertyupdate>"))
        with CaptureQueriesContext(connection) as queries:
            reply = dav("PROPFIND", f"/Folder {children}/", b"", {"Depth": "1"})  # allprop
        assert reply.status == 207 and len(reply.hrefs()) >= children + 1
        return len(queries)

    assert count(2) == count(12)


# --- reading -------------------------------------------------------------------------------------------


def test_live_properties_of_a_file(dav, owner):
    item = put_file(owner, workspace_for(owner), "notes.md", b"# Notes\n")

    reply = dav.propfind("/notes.md", depth="0", props=[
        "getetag", "getlastmodified", "getcontentlength", "getcontenttype", "creationdate", "resourcetype"])

    assert reply.prop("notes.md", f"{D}getcontentlength") == "8"
    assert reply.prop("notes.md", f"{D}getcontenttype") == "text/markdown"
    assert reply.prop("notes.md", f"{D}getetag") == f'"{item.current_version_id.hex}"'
    assert reply.prop("notes.md", f"{D}getlastmodified").endswith("GMT")


def test_get_with_a_range_reads_that_slice(dav, owner):
    data = bytes(range(256)) * 40
    put_file(owner, workspace_for(owner), "bytes.bin", data)

    partial = dav("GET", "/bytes.bin", headers={"Range": "bytes=1000-1099"})
    whole = dav("GET", "/bytes.bin")
    head = dav("HEAD", "/bytes.bin")

    assert partial.status == 206 and partial.body == data[1000:1100]
    assert partial.headers["content-range"] == f"bytes 1000-1099/{len(data)}"
    assert whole.status == 200 and whole.body == data
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == str(len(data))


def test_quota_properties_of_the_users_own_space(dav, owner):
    DriveUsage.objects.create(user=owner, quota_bytes=1000)
    put_file(owner, workspace_for(owner), "a.bin", b"x" * 100)

    reply = dav.propfind("/", depth="0", props=["quota-available-bytes", "quota-used-bytes"])

    assert reply.prop("/dav/", f"{D}quota-used-bytes") == "100"
    assert reply.prop("/dav/", f"{D}quota-available-bytes") == "900"


# --- writing ---------------------------------------------------------------------------------------------


def test_put_over_an_existing_file_adds_a_version(dav, owner):
    assert dav("PUT", "/report.txt", b"first").status == 201
    first_etag = dav("HEAD", "/report.txt").headers["etag"]

    reply = dav("PUT", "/report.txt", b"second, longer")

    assert reply.status == 204
    item = Item.objects.get(parent=workspace_for(owner), title="report.txt")
    assert FileVersion.objects.filter(item=item).count() == 2
    assert dav("GET", "/report.txt").body == b"second, longer"
    assert dav("HEAD", "/report.txt").headers["etag"] not in ("", first_etag)


def test_put_beyond_the_quota_is_refused_before_storing_anything(dav, owner):
    DriveUsage.objects.create(user=owner, quota_bytes=10)

    reply = dav("PUT", "/big.bin", b"x" * 11)

    dav_error(reply, 507, "quota_exceeded")
    assert not Item.objects.filter(title="big.bin").exists()


def test_put_of_malware_is_refused_and_never_served(dav, owner, settings, clamd):  # noqa: F811
    settings.DRIVE_SCANNER = "clamav"
    settings.DRIVE_CLAMD_SOCKET = clamd["socket"]

    reply = dav("PUT", "/invoice.txt", b"Bonjour\n" + EICAR + b"\n")

    dav_error(reply, 422, "infected")
    assert Item.objects.get(title="invoice.txt").upload_state == "infected"  # kept aside
    assert dav("GET", "/invoice.txt").status == 404
    assert dav("PUT", "/clean.txt", b"nothing to report").status == 201


def test_put_with_an_if_match_on_another_etag_fails(dav):
    dav("PUT", "/doc.txt", b"v1")

    reply = dav("PUT", "/doc.txt", b"v2", {"If-Match": '"not-the-etag"'})

    assert reply.status == 412
    assert dav("GET", "/doc.txt").body == b"v1"


def test_tagged_if_conditions_apply_to_the_resource_they_name(dav):
    dav("PUT", "/doc.txt", b"v1")
    etag = dav("HEAD", "/doc.txt").headers["etag"]
    url = dav.url("/doc.txt")

    stale = dav("PUT", "/doc.txt", b"v2", {"If": f'<{url}> (["stale"])'})
    current = dav("PUT", "/doc.txt", b"v2", {"If": f"<{url}> ([{etag}])"})
    other_resource = dav("PUT", "/doc.txt", b"v3", {"If": f'<{dav.url("/elsewhere.txt")}> (["stale"])'})

    dav_error(stale, 412)
    assert current.status == 204
    assert other_resource.status == 204  # a list for another resource does not bind this one
    assert dav("GET", "/doc.txt").body == b"v3"


def test_delete_moves_to_the_trash(dav, owner):
    folder = folder_create(actor=owner, title="Old")
    put_file(owner, folder, "a.txt", b"a")

    assert dav("DELETE", "/Old/").status == 204

    folder.refresh_from_db()
    assert folder.deleted_at is not None
    assert dav.propfind("/Old/", depth="0").status == 404


def test_move_renames_and_moves_keeping_dead_properties(dav, owner):
    folder_create(actor=owner, title="Target")
    dav("PUT", "/draft.txt", b"draft")
    dav("PROPPATCH", "/draft.txt", (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
        "<D:set><D:prop><Z:status>review</Z:status></D:prop></D:set></D:propertyupdate>"))
    item = Item.objects.get(title="draft.txt")

    reply = dav("MOVE", "/draft.txt", headers={"Destination": dav.url("/Target/final.txt")})

    assert reply.status == 201
    item.refresh_from_db()
    assert (item.title, item.parent.title) == ("final.txt", "Target")
    assert DeadProperty.objects.get(item=item, name="{urn:x-test}status").value.endswith(">review</ns0:status>")
    named = dav("PROPFIND", "/Target/final.txt", (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:prop><Z:status/></D:prop></D:propfind>'),
        {"Depth": "0"})
    assert named.prop("final.txt", "{urn:x-test}status") == "review"


def test_move_over_an_existing_destination_needs_overwrite_and_keeps_what_it_replaces(dav, owner):
    dav("PUT", "/new.txt", b"new")
    dav("PUT", "/old.txt", b"old")
    old = Item.objects.get(title="old.txt")

    refused = dav("MOVE", "/new.txt", headers={"Destination": dav.url("/old.txt"), "Overwrite": "F"})
    replaced = dav("MOVE", "/new.txt", headers={"Destination": dav.url("/old.txt"), "Overwrite": "T"})

    dav_error(refused, 412)
    assert replaced.status == 204
    assert dav("GET", "/old.txt").body == b"new"
    old.refresh_from_db()
    assert old.deleted_at is None and old.versions.count() == 2  # the old bytes: version 1
    # A folder over a folder: the destination goes to the trash, restorable.
    assert dav("MKCOL", "/A/").status == 201 and dav("MKCOL", "/B/").status == 201
    folder_b = Item.objects.get(title="B")
    assert dav("MOVE", "/A/", headers={"Destination": dav.url("/B/"), "Overwrite": "T"}).status == 204
    folder_b.refresh_from_db()
    assert folder_b.deleted_at is not None


def test_copy_of_a_folder_copies_its_tree_and_dead_properties(dav, owner):
    dav("MKCOL", "/Src/")
    dav("MKCOL", "/Src/Sub/")
    dav("PUT", "/Src/Sub/a.txt", b"a")
    dav("PROPPATCH", "/Src/Sub/a.txt", (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
        "<D:set><D:prop><Z:tag>kept</Z:tag></D:prop></D:set></D:propertyupdate>"))

    deep = dav("COPY", "/Src/", headers={"Destination": dav.url("/Copy/")})
    shallow = dav("COPY", "/Src/", headers={"Destination": dav.url("/Shell/"), "Depth": "0"})

    assert (deep.status, shallow.status) == (201, 201)
    assert dav("GET", "/Copy/Sub/a.txt").body == b"a"
    copied = Item.objects.get(title="a.txt", parent__parent__title="Copy")
    assert DeadProperty.objects.filter(item=copied, name="{urn:x-test}tag").exists()
    assert dav.propfind("/Shell/").hrefs() == ["/dav/Shell/"]


def test_moving_a_shared_entry_at_the_top_renames_it_where_it_is(client_for, owner):
    editor = UserFactory()
    shared = folder_create(actor=owner, title="Team")
    grant(shared, Role.EDITOR, user=editor)
    dav = client_for(editor)

    reply = dav("MOVE", "/Team/", headers={"Destination": dav.url("/Team 2026/")})

    assert reply.status == 201
    shared.refresh_from_db()
    assert (shared.title, shared.parent_id) == ("Team 2026", workspace_for(owner).pk)


def test_an_editor_cannot_take_a_shared_folder_or_its_files_into_their_own_drive(client_for, owner):
    """A drag into one's own folders would hand the owner's items over (and their quota): an
    editor may rename in place and move within the shared folder, not take things out."""
    editor = UserFactory()
    shared = folder_create(actor=owner, title="Team")
    inside = folder_create(actor=owner, title="Plans", parent_id=shared.pk)
    put_file(owner, shared, "budget.txt", b"1000")
    grant(shared, Role.EDITOR, user=editor)
    dav = client_for(editor)
    assert dav("MKCOL", "/Mine/").status == 201

    dav_error(dav("MOVE", "/Team/", headers={"Destination": dav.url("/Mine/Team/")}), 403)
    dav_error(dav("MOVE", "/Team/budget.txt", headers={"Destination": dav.url("/Mine/budget.txt")}), 403)
    assert dav("MOVE", "/Team/budget.txt", headers={"Destination": dav.url("/Team/Plans/budget.txt")}).status == 201

    shared.refresh_from_db()
    assert (shared.parent_id, shared.quota_owner_id) == (workspace_for(owner).pk, owner.pk)
    assert Item.objects.get(title="budget.txt").parent_id == inside.pk
    assert owner_sees(client_for(owner), "/Team/Plans/budget.txt")


def test_a_file_moved_or_copied_over_another_becomes_its_new_version(client_for, owner):
    """The original keeps its identity: its history, its shares, its share links and its
    dead properties; the bytes of a MOVE are handed over (no copy in S3), those of a COPY
    copied; the quota counts each version once."""
    colleague = UserFactory()
    dav = client_for(owner)
    assert dav("PUT", "/rapport.txt", b"version 1").status == 201
    original = Item.objects.get(title="rapport.txt")
    grant(original, Role.READER, user=colleague)
    assert dav("PROPPATCH", "/rapport.txt", (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
        "<D:set><D:prop><Z:status>fond</Z:status></D:prop></D:set></D:propertyupdate>")).status == 207
    assert dav("PUT", "/~tmp1.txt", b"version 2!").status == 201
    handed = Item.objects.get(title="~tmp1.txt").current_version.key

    moved = dav("MOVE", "/~tmp1.txt", headers={"Destination": dav.url("/rapport.txt"), "Overwrite": "T"})
    assert moved.status == 204, moved.body
    assert dav("GET", "/rapport.txt").body == b"version 2!"
    assert dav("GET", "/~tmp1.txt").status == 404
    original.refresh_from_db()
    assert (original.current_version.number, original.current_version.key) == (2, handed)
    assert DeadProperty.objects.get(item=original, name="{urn:x-test}status").value.endswith(">fond</ns0:status>")
    assert client_for(colleague)("GET", "/rapport.txt").body == b"version 2!"  # still shared
    assert DriveUsage.objects.get(user=owner).used_bytes == len(b"version 1") + len(b"version 2!")

    assert dav("PUT", "/modèle.txt", b"template").status == 201
    copied = dav("COPY", "/modèle.txt", headers={"Destination": dav.url("/rapport.txt"), "Overwrite": "T"})
    assert copied.status == 204, copied.body
    assert dav("GET", "/rapport.txt").body == dav("GET", "/modèle.txt").body == b"template"
    assert original.versions.count() == 3 and Item.objects.filter(title="modèle.txt").exists()
    # Without Overwrite, nothing is replaced.
    assert dav("COPY", "/modèle.txt", headers={"Destination": dav.url("/rapport.txt"), "Overwrite": "F"}).status == 412
    assert original.versions.count() == 3


def test_a_rename_that_changes_only_the_case_is_not_an_overwrite(dav, owner):
    dav("PUT", "/rapport.txt", b"v1")
    dav("PUT", "/autre.txt", b"v2")
    item = Item.objects.get(title="rapport.txt")

    renamed = dav("MOVE", "/rapport.txt", headers={"Destination": dav.url("/Rapport.txt"), "Overwrite": "F"})

    assert renamed.status == 201, renamed.body
    item.refresh_from_db()
    assert item.title == "Rapport.txt" and item.versions.count() == 1
    assert dav("GET", "/Rapport.txt").body == b"v1"
    # Onto another file, Overwrite: F still refuses, whatever the case.
    dav_error(dav("MOVE", "/Rapport.txt", headers={"Destination": dav.url("/AUTRE.txt"), "Overwrite": "F"}), 412)


def test_a_file_with_a_history_moved_over_another_goes_to_the_trash_whole(dav, owner):
    """Only a source that holds nothing else (a temporary file) disappears for good; one with
    older versions or shares of its own goes to the trash, its newest remaining version
    current again, restorable and downloadable."""
    dav("PUT", "/cible.txt", b"target")
    dav("PUT", "/source.txt", b"old source")
    dav("PUT", "/source.txt", b"new source")
    source = Item.objects.get(title="source.txt")

    assert dav("MOVE", "/source.txt", headers={"Destination": dav.url("/cible.txt")}).status == 204

    assert dav("GET", "/cible.txt").body == b"new source"
    source.refresh_from_db()
    assert source.deleted_at is not None and source.current_version.number == 1
    restored = restore_item(owner, source)
    assert restored.upload_state == "ready" and dav("GET", "/source.txt").body == b"old source"
    # A temporary file shared on its own (a link, a grant) is kept in the trash too.
    dav("PUT", "/partagé.txt", b"shared")
    shared = Item.objects.get(title="partagé.txt")
    grant(shared, Role.READER, user=UserFactory())
    assert dav("MOVE", "/partagé.txt", headers={"Destination": dav.url("/cible.txt")}).status == 204
    shared.refresh_from_db()
    assert shared.deleted_at is not None


def restore_item(user, item: Item) -> Item:
    from drive_app.services.items import item_restore

    return item_restore(actor=user, item_id=item.pk)


def test_a_name_held_by_a_failed_upload_takes_the_next_file_saved_under_it(dav, owner):
    """A refused upload is kept (with its reason) but not listed: nothing in it may be served.
    Its name is not lost for the desktop client: a PUT, or a save through a temporary file
    moved over the name, becomes its next version."""
    dav_error(dav("PUT", "/scan.pdf", b"not a pdf"), 415)
    failed = Item.objects.get(title="scan.pdf")
    assert dav("GET", "/scan.pdf").status == 404
    assert dav("PUT", "/~scan.tmp", PDF_BYTES).status == 201

    moved = dav("MOVE", "/~scan.tmp", headers={"Destination": dav.url("/scan.pdf"), "Overwrite": "F"})

    assert moved.status == 201, moved.body
    assert dav("GET", "/scan.pdf").body == PDF_BYTES
    failed.refresh_from_db()
    assert failed.upload_state == "ready" and failed.versions.count() == 2
    assert not Item.objects.filter(title="~scan.tmp").exists()


def owner_sees(dav: Dav, path: str) -> bool:
    return dav("GET", path).status == 200


def test_mkcol_with_an_invalid_name_is_a_dav_error(dav):
    dav_error(dav("MKCOL", "/bad\u0007name/"), 422, "invalid_title")


# --- locks ----------------------------------------------------------------------------------------------


def test_locks_are_stored_in_the_database_and_honoured_by_another_process(dav, owner, token_for):
    dav("PUT", "/locked.txt", b"v1")
    lock = dav("LOCK", "/locked.txt", LOCK_BODY, {"Timeout": "Second-600"})
    assert lock.status == 200
    token = lock.headers["lock-token"].strip("<>")
    assert DavLock.objects.filter(token=token).exists()

    other_process = Dav(build_wsgi_application(), owner, token_for(owner, ["dav"]))
    dav_error(other_process("PUT", "/locked.txt", b"v2"), 423, "locked")
    assert other_process("PUT", "/locked.txt", b"v2", {"If": f"(<{token}>)"}).status == 204
    assert other_process("UNLOCK", "/locked.txt", headers={"Lock-Token": f"<{token}>"}).status == 204
    assert not DavLock.objects.filter(token=token).exists()


def test_a_users_lock_on_a_shared_folder_binds_the_other_users(client_for, owner):
    editor = UserFactory()
    shared = folder_create(actor=owner, title="Shared")
    put_file(owner, shared, "plan.txt", b"v1")
    grant(shared, Role.EDITOR, user=editor)
    owner_dav, editor_dav = client_for(owner), client_for(editor)
    assert owner_dav("LOCK", "/Shared/", LOCK_BODY, {"Depth": "infinity"}).status == 200

    reply = editor_dav("PUT", "/Shared/plan.txt", b"v2")

    root = dav_error(reply, 423, "locked")
    # The conflicting lock is named by the editor's own path to it.
    assert [href.text for href in root.iter(f"{D}href")] == ["/dav/Shared/"]
    assert editor_dav.propfind("/Shared/", depth="0", props=["lockdiscovery"]).body.count(b"<D:activelock>") == 1


def test_readers_cannot_lock(client_for, owner):
    reader = UserFactory()
    shared = folder_create(actor=owner, title="Read only")
    put_file(owner, shared, "a.txt", b"a")
    grant(shared, Role.READER, user=reader)

    dav_error(client_for(reader)("LOCK", "/Read only/a.txt", LOCK_BODY), 403)
    dav_error(client_for(reader)("LOCK", "/Read only/new.txt", LOCK_BODY), 403)
    assert not DavLock.objects.exists()


# --- access ------------------------------------------------------------------------------------------------


def test_another_users_items_do_not_exist(client_for, owner):
    stranger = UserFactory()
    folder = folder_create(actor=owner, title="Private")
    put_file(owner, folder, "secret.txt", b"secret")
    dav = client_for(stranger)

    for method, path in (("GET", "/Private/secret.txt"), ("PROPFIND", "/Private/"), ("DELETE", "/Private/"),
                         ("PROPPATCH", "/Private/secret.txt")):
        dav_error(dav(method, path, b"", {"Depth": "0"}), 404)
    # Creating below it: no such folder for them (RFC 4918: 409 for a missing parent).
    dav_error(dav("PUT", "/Private/secret.txt", b"overwrite"), 409)
    dav_error(dav("MKCOL", "/Private/sub/"), 409)
    dav_error(dav("LOCK", "/Private/secret.txt", LOCK_BODY), 409)
    assert Item.objects.get(title="secret.txt").size == 6


def test_readers_cannot_write(client_for, owner):
    reader = UserFactory()
    shared = folder_create(actor=owner, title="Read only")
    put_file(owner, shared, "a.txt", b"a")
    grant(shared, Role.READER, user=reader)
    dav = client_for(reader)

    dav_error(dav("PUT", "/Read only/a.txt", b"changed"), 403, "permission_denied")
    dav_error(dav("PUT", "/Read only/b.txt", b"new"), 403)
    dav_error(dav("MKCOL", "/Read only/sub/"), 403)
    dav_error(dav("DELETE", "/Read only/a.txt"), 403)
    dav_error(dav("MOVE", "/Read only/a.txt", headers={"Destination": dav.url("/a.txt")}), 403)
    dav_error(dav("COPY", "/Read only/a.txt", headers={"Destination": dav.url("/Read only/c.txt")}), 403)
    proppatch = dav("PROPPATCH", "/Read only/a.txt", (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test">'
        "<D:set><D:prop><Z:tag>x</Z:tag></D:prop></D:set></D:propertyupdate>"))
    assert proppatch.status == 207 and b"403 Forbidden" in proppatch.body
    # Reading and copying out to their own space are allowed.
    assert dav("GET", "/Read only/a.txt").body == b"a"
    assert dav("COPY", "/Read only/a.txt", headers={"Destination": dav.url("/mine.txt")}).status == 201
    assert not DeadProperty.objects.exists()


def test_editors_write_replace_and_delete_into_the_trash(client_for, owner):
    editor = UserFactory()
    shared = folder_create(actor=owner, title="Team")
    grant(shared, Role.EDITOR, user=editor)
    dav = client_for(editor)

    assert dav("PUT", "/Team/a.txt", b"a").status == 201
    assert dav("MKCOL", "/Team/sub/").status == 201
    # Bytes written into the owner's folder are charged to the owner.
    assert DriveUsage.objects.get(user=owner).used_bytes == 1
    # The usual desktop save: write a temporary file, then MOVE it over the original.
    assert dav("PUT", "/Team/.~tmp.txt", b"b").status == 201
    assert dav("MOVE", "/Team/.~tmp.txt", headers={"Destination": dav.url("/Team/a.txt"), "Overwrite": "T"}).status == 204
    assert dav("GET", "/Team/a.txt").body == b"b"
    original = Item.objects.get(title="a.txt")  # the same file, with one more version
    assert list(original.versions.order_by("number").values_list("number", "size")) == [(1, 1), (2, 1)]
    assert not Item.objects.filter(title=".~tmp.txt").exists()  # the temporary file held nothing else
    assert dav("DELETE", "/Team/a.txt").status == 204
    assert dav("GET", "/Team/a.txt").status == 404
    trashed = Item.objects.filter(title="a.txt", deleted_at__isnull=False)
    assert trashed.exists()  # recoverable from the trash, not destroyed


# --- authentication ---------------------------------------------------------------------------------------


def test_requests_without_credentials_are_challenged(dav):
    reply = dav("OPTIONS", "/", auth="")

    dav_error(reply, 401, "not_authenticated")
    assert reply.headers["www-authenticate"] == 'Basic realm="Communs", charset="UTF-8"'


def test_app_passwords_are_unscoped_or_dav_tokens_of_that_user(app, owner, token_for):
    def basic(email, password):
        return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()

    dav = Dav(app, owner, "unused")
    assert dav("OPTIONS", "/", auth=basic(owner.email, token_for(owner))).status == 200
    assert dav("OPTIONS", "/", auth=basic(owner.email.upper(), token_for(owner, ["dav"]))).status == 200
    dav_error(dav("OPTIONS", "/", auth=basic(owner.email, token_for(owner, ["drive"]))), 401)
    dav_error(dav("OPTIONS", "/", auth=basic(UserFactory().email, token_for(owner))), 401)
    read_only = basic(owner.email, token_for(owner, ["dav:read"]))
    assert dav("PROPFIND", "/", auth=read_only, headers={"Depth": "0"}).status == 207
    dav_error(dav("MKCOL", "/x/", auth=read_only), 403, "insufficient_scope")


def test_failed_sign_ins_are_rate_limited_per_account_and_address(dav, owner):
    wrong = "Basic " + base64.b64encode(f"{owner.email}:cmn_00000000_{uuid.uuid4().hex}".encode()).decode()
    for _attempt in range(MAX_FAILURES_PER_ACCOUNT):
        dav_error(dav("OPTIONS", "/", auth=wrong), 401)

    blocked = dav("OPTIONS", "/")  # the right password, no longer even checked

    dav_error(blocked, 429, "rate_limited")
    assert int(blocked.headers["retry-after"]) > 0
    assert dav("OPTIONS", "/", address="192.0.2.99").status == 200  # another client address


def test_many_failures_from_one_address_do_not_lock_out_those_who_signed_in_from_it(client_for, owner):
    """Someone behind an office's shared address tries many accounts: new sign-ins from that
    address wait, the colleagues whose clients already signed in from it keep working."""
    colleague, newcomer = UserFactory(), UserFactory()
    office = "198.51.100.7"
    assert client_for(colleague)("OPTIONS", "/", address=office).status == 200  # signed in before
    dav = client_for(owner)
    for attempt in range(MAX_FAILURES_PER_ADDRESS):
        wrong = "Basic " + base64.b64encode(f"user{attempt}@example.org:cmn_00000000_x".encode()).decode()
        dav_error(dav("OPTIONS", "/", auth=wrong, address=office), 401)

    assert client_for(colleague)("OPTIONS", "/", address=office).status == 200
    dav_error(client_for(newcomer)("OPTIONS", "/", address=office), 429, "rate_limited")
    # A wrong password gets the same answer for a known email as for any other: the answers
    # do not tell who signs in from here.
    wrong = "Basic " + base64.b64encode(f"{colleague.email}:cmn_00000000_x".encode()).decode()
    dav_error(dav("OPTIONS", "/", auth=wrong, address=office), 429, "rate_limited")
    assert client_for(newcomer)("OPTIONS", "/", address="198.51.100.8").status == 200


def test_folders_created_over_dav_are_items_of_the_drive(dav, owner):
    assert dav("MKCOL", "/Projets 2026/").status == 201

    item = Item.objects.get(title="Projets 2026")
    assert (item.type, item.parent_id, item.creator_id) == (ItemType.FOLDER, workspace_for(owner).pk, owner.pk)


def test_a_file_get_costs_four_statements(dav, owner):
    """App password, the two path segments (each with the role, the last with its version's
    key), and the workspace: nothing per byte, no second lookup of the version."""
    folder = folder_create(actor=owner, title="Docs")
    put_file(owner, folder, "a.txt", b"content")
    dav("GET", "/Docs/a.txt")  # warm: the token's last use is recorded once
    with CaptureQueriesContext(connection) as queries:
        reply = dav("GET", "/Docs/a.txt")
    assert reply.status == 200 and reply.body == b"content"
    assert len(queries) == 4, [query["sql"][:60] for query in queries]
