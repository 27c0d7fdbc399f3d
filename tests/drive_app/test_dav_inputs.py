"""WebDAV bad input and response bodies, in process (the DAV application called as a WSGI
application, on real PostgreSQL and SeaweedFS): paths no resource can have, malformed header
URLs, XML bodies nested too deeply, byte ranges by RFC 9110, and no WsgiDAV page or Python
text in any response. The same over a real server: ``test_dav_e2e.py``."""

from __future__ import annotations

import pytest

from drive_app.dav import build_wsgi_application
from drive_app.dav.properties import MAX_VALUE_DEPTH
from drive_app.dav.validation import MAX_LOCK_OWNER_BYTES, MAX_XML_DEPTH
from drive_app.models import DavLock, DeadProperty, Item
from drive_app.services.items import workspace_for
from tests.drive_app.test_dav import LOCK_BODY, Dav, Reply, dav_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = "{DAV:}"
#: What a Python exception or WsgiDAV's own pages would show.
LEAKS = (b"Error(", b"Exception", b"Traceback", b"exception", b"DAVErrorCondition", b"<html", b"github", b"WsgiDAV",
         b"WsgiDav")


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def dav(owner, token_for):
    return Dav(build_wsgi_application(), owner, token_for(owner, ["dav"]))


def clean(reply: Reply) -> Reply:
    """No trace of Python or of WsgiDAV's HTML pages in the reply."""
    for leak in LEAKS:
        assert leak not in reply.body, (leak, reply.body)
    assert not reply.headers.get("content-type", "").startswith("text/html"), reply.headers
    return reply


def refused(reply: Reply, status: int, code: str | None = None) -> Reply:
    """A clean ``DAV:error`` reply with ``status`` (and our ``code``)."""
    dav_error(reply, status, code)
    return clean(reply)


def nested(depth: int, text: str = "x") -> str:
    """``depth`` levels of elements (``<Z:n>`` inside each other) around ``text``."""
    return "<Z:n>" * depth + text + "</Z:n>" * depth


def proppatch(*props: str) -> str:
    return ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop>'
            + "".join(props) + "</D:prop></D:set></D:propertyupdate>")


# --- paths and header URLs ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/../x", "/a/../../x", "/..", "/new\x00dir/", "/a\x00.txt"])
def test_a_path_no_resource_can_have_is_a_bad_request_even_signed_out(dav, path):
    """WsgiDAV's own refusal of ``..`` above the mount point lost its body (a 400 announcing
    422 bytes and sending none); a NUL reached PostgreSQL (500)."""
    for method in ("GET", "MKCOL", "PUT", "PROPFIND"):
        refused(dav(method, path, headers={"Depth": "0"}), 400, "invalid_path")
        refused(dav(method, path, auth=""), 400, "invalid_path")
    assert not Item.objects.filter(title__contains="dir").exists()


def test_dot_segments_inside_the_drive_resolve_there(dav):
    assert dav("PUT", "/a.txt", b"a").status == 201

    assert dav("GET", "/Folder/../a.txt").body == b"a"


@pytest.mark.parametrize("destination, code", [
    ("http://[::1", "invalid_header"),
    ("http://%5B::1/dav/b.txt", "invalid_header"),
    ("http://testserver/dav/b%00.txt", "invalid_path"),
    ("http://testserver/dav/../b.txt", "invalid_path"),
])
def test_a_malformed_destination_is_a_bad_request(dav, destination, code):
    """RFC 4918 8.7 (400 for a malformed request): before, a ValueError (500) or a NUL
    reaching PostgreSQL (500)."""
    assert dav("PUT", "/a.txt", b"a").status == 201
    for method, overwrite in (("COPY", "T"), ("MOVE", "T"), ("MOVE", "F")):
        reply = dav(method, "/a.txt", headers={"Destination": destination, "Overwrite": overwrite})
        refused(reply, 400, code)
    assert list(Item.objects.filter(parent=workspace_for(dav.user)).values_list("title", flat=True)) == ["a.txt"]


def test_a_destination_on_another_server_is_a_bad_gateway_in_our_words(dav):
    assert dav("PUT", "/a.txt", b"a").status == 201

    reply = dav("COPY", "/a.txt", headers={"Destination": "https://elsewhere.example/dav/b.txt"})

    refused(reply, 502, "bad_gateway")  # WsgiDAV's text links its repository


def test_a_malformed_url_in_an_if_header_is_a_bad_request(dav):
    assert dav("PUT", "/a.txt", b"a").status == 201

    for tag, code in (("http://[::1", "invalid_header"), ("http://testserver/dav/a%00.txt", "invalid_path")):
        reply = dav("PUT", "/a.txt", b"b", {"If": f"<{tag}> (<opaquelocktoken:x>)"})
        refused(reply, 400, code)
    assert dav("GET", "/a.txt").body == b"a"


def test_deleting_the_drive_itself_is_forbidden(dav):
    """WsgiDAV looks up the parent of ``/``, which has none (was a 500)."""
    refused(dav("DELETE", "/"), 403)


# --- XML bodies ---------------------------------------------------------------------------------------


def test_xml_bodies_nested_too_deeply_are_refused_whole(dav):
    """A dead property or a lock owner 1,000 levels deep made WsgiDAV's serializer exceed
    Python's recursion limit: a 207 with the exception's text, or a 500."""
    assert dav("PUT", "/a.txt", b"a").status == 201
    deep_lock = LOCK_BODY.replace("<D:owner>tests</D:owner>", f'<D:owner xmlns:Z="urn:x-test">{nested(1000)}</D:owner>')

    for method, body in (("PROPPATCH", proppatch(f"<Z:deep>{nested(1000)}</Z:deep>")), ("LOCK", deep_lock),
                         ("PROPFIND", f'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test">{nested(MAX_XML_DEPTH)}</D:propfind>')):
        reply = dav(method, "/a.txt", body, {"Depth": "0"})
        refused(reply, 400, "xml_too_deep")
    assert not DeadProperty.objects.exists() and not DavLock.objects.exists()


def lock_with_owner(owner_text: str) -> str:
    return LOCK_BODY.replace("<D:owner>tests</D:owner>", f"<D:owner>{owner_text}</D:owner>")


def test_a_lock_owner_larger_than_the_limit_is_refused_before_anything_is_stored(dav):
    """The owner is stored with the lock and sent in every lockdiscovery: up to
    MAX_LOCK_OWNER_BYTES as stored (UTF-8 bytes, markup included), 413 above, and a LOCK of
    an unmapped URL creates no empty file then."""
    for name in ("small.txt", "largest.txt", "larger.txt", "wide.txt"):
        assert dav("PUT", f"/{name}", b"a").status == 201
    assert dav("LOCK", "/small.txt", lock_with_owner("x"), {"Depth": "0"}).status == 200
    markup = len(DavLock.objects.get().data["owner"].encode()) - 1
    largest = "x" * (MAX_LOCK_OWNER_BYTES - markup)

    accepted = dav("LOCK", "/largest.txt", lock_with_owner(largest), {"Depth": "0"})
    one_more = dav("LOCK", "/larger.txt", lock_with_owner(largest + "x"), {"Depth": "0"})
    in_bytes = dav("LOCK", "/wide.txt", lock_with_owner("é" * (len(largest) // 2 + 1)), {"Depth": "0"})
    unmapped = dav("LOCK", "/new.txt", lock_with_owner(largest + "x"), {"Depth": "0"})

    assert accepted.status == 200, accepted.body
    stored = sorted(len(owner.encode()) for owner in DavLock.objects.values_list("data__owner", flat=True))
    assert stored == [markup + 1, MAX_LOCK_OWNER_BYTES]
    for reply in (one_more, in_bytes, unmapped):
        refused(reply, 413, "lock_owner_too_large")
    assert DavLock.objects.count() == 2
    assert not Item.objects.filter(title="new.txt").exists()


def test_dead_property_values_nested_too_deeply_are_refused_per_property(dav):
    """RFC 4918 9.2.1: a property the server cannot record is 507, the others of the request
    424; the description is our message, never Python's."""
    assert dav("PUT", "/a.txt", b"a").status == 201
    too_deep = nested(MAX_VALUE_DEPTH)  # inside the property's own element: one level too many

    reply = clean(dav("PROPPATCH", "/a.txt", proppatch(f"<Z:deep>{too_deep}</Z:deep>", "<Z:flat>x</Z:flat>")))

    assert reply.status == 207, reply.body
    statuses = {prop.tag: propstat.findtext(f"{D}status") for propstat in reply.xml().iter(f"{D}propstat")
                for prop in propstat.find(f"{D}prop")}
    assert statuses == {"{urn:x-test}deep": "HTTP/1.1 507 Insufficient Storage",
                        "{urn:x-test}flat": "HTTP/1.1 424 Failed Dependency"}
    assert b"nested too deeply" in reply.body
    assert not DeadProperty.objects.exists()
    # One level less is stored, and read back.
    assert dav("PROPPATCH", "/a.txt", proppatch(f"<Z:deep>{nested(MAX_VALUE_DEPTH - 1)}</Z:deep>")).status == 207
    assert DeadProperty.objects.filter(name="{urn:x-test}deep").exists()
    assert len(list(dav.propfind("/a.txt", depth="0").xml().iter("{urn:x-test}n"))) == MAX_VALUE_DEPTH - 1


def test_a_refused_property_is_described_in_our_words(dav):
    """WsgiDAV describes a failed property with the error's repr (``Error condition:
    DAVErrorCondition(...)``): ours says what failed, in the user's language."""
    assert dav("PUT", "/a.txt", b"a").status == 201

    reply = clean(dav("PROPPATCH", "/a.txt", proppatch("<D:lockdiscovery>x</D:lockdiscovery>")))

    assert reply.status == 207 and b"403 Forbidden" in reply.body
    assert reply.xml().findtext(f"{D}responsedescription").startswith("403 Forbidden: ")


# --- bodies of successes and of WsgiDAV's own errors -------------------------------------------------


def test_successes_have_no_body_of_wsgidav(dav):
    """WsgiDAV answered 201 with an HTML page linking its repository."""
    replies = {
        "PUT new": dav("PUT", "/a.txt", b"a"),
        "PUT again": dav("PUT", "/a.txt", b"b"),
        "MKCOL": dav("MKCOL", "/Folder/"),
        "COPY": dav("COPY", "/a.txt", headers={"Destination": dav.url("/b.txt")}),
        "MOVE": dav("MOVE", "/b.txt", headers={"Destination": dav.url("/Folder/b.txt")}),
        "COPY folder": dav("COPY", "/Folder/", headers={"Destination": dav.url("/Copy/")}),
        "DELETE": dav("DELETE", "/Copy/"),
    }

    assert {name: reply.status for name, reply in replies.items()} == {
        "PUT new": 201, "PUT again": 204, "MKCOL": 201, "COPY": 201, "MOVE": 201, "COPY folder": 201, "DELETE": 204}
    for name, reply in replies.items():
        assert (reply.body, reply.headers["content-length"]) == (b"", "0"), name
        assert "content-type" not in reply.headers, (name, reply.headers)
    assert replies["PUT new"].headers["etag"]


def test_wsgidav_errors_are_described_in_our_words(dav):
    """Not WsgiDAV's developer text (its configuration options, a path)."""
    assert dav("MKCOL", "/Folder/").status == 201

    for reply, status in ((dav("GET", "/Folder/"), 403), (dav("PROPFIND", "/", b"", {"Depth": "2"}), 400),
                          (dav("MKCOL", "/Other/", b"<x/>"), 415), (dav("COPY", "/Folder/"), 400)):
        refused(reply, status)


# --- ranges (RFC 9110 14) -----------------------------------------------------------------------------

DATA = bytes(range(100))


@pytest.mark.parametrize("header, status, content_range, body", [
    ("bytes=10-19", 206, "bytes 10-19/100", DATA[10:20]),
    ("bytes=90-", 206, "bytes 90-99/100", DATA[90:]),
    ("bytes=95-200", 206, "bytes 95-99/100", DATA[95:]),
    ("bytes=-5", 206, "bytes 95-99/100", DATA[95:]),
    ("bytes=-500", 206, "bytes 0-99/100", DATA),
    # Unsatisfiable (14.1.1): 416 naming the size (15.5.17).
    ("bytes=-0", 416, "bytes */100", None),
    ("bytes=100-", 416, "bytes */100", None),
    ("bytes=200-300, -0", 416, "bytes */100", None),
    # One satisfiable range is enough, wherever it is in the list.
    ("bytes=200-, 0-1", 206, "bytes 0-1/100", DATA[:2]),
    # Overlapping or adjacent ranges coalesce into one (15.3.7).
    ("bytes=0-4,5-9", 206, "bytes 0-9/100", DATA[:10]),
    ("bytes=20-29, 0-4, 3-21", 206, "bytes 0-29/100", DATA[:30]),
    # Invalid (5-2: last before first), another unit, not ranges, several disjoint ones:
    # the header is ignored (14.2), the whole file sent.
    ("bytes=5-2", 200, None, DATA),
    ("items=0-1", 200, None, DATA),
    ("bytes=x", 200, None, DATA),
    ("bytes=-", 200, None, DATA),
    ("bytes=0-1,10-11", 200, None, DATA),
])
def test_ranges_follow_rfc_9110(dav, header, status, content_range, body):
    assert dav("PUT", "/data.bin", DATA).status == 201

    reply = dav("GET", "/data.bin", headers={"Range": header})
    head = dav("HEAD", "/data.bin", headers={"Range": header})

    assert (reply.status, reply.headers.get("content-range")) == (status, content_range), reply.body
    assert (head.status, head.headers.get("content-range")) == (status, content_range)
    if body is not None:
        assert reply.body == body and reply.headers["content-length"] == str(len(body))
    else:
        refused(reply, 416, "range_not_satisfiable")


def test_a_range_is_served_only_while_if_range_holds(dav):
    assert dav("PUT", "/data.bin", DATA).status == 201
    etag = dav("HEAD", "/data.bin").headers["etag"]

    current = dav("GET", "/data.bin", headers={"Range": "bytes=0-1", "If-Range": etag})
    stale = dav("GET", "/data.bin", headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    weak = dav("GET", "/data.bin", headers={"Range": "bytes=0-1", "If-Range": f"W/{etag}"})
    stale_unsatisfiable = dav("GET", "/data.bin", headers={"Range": "bytes=-0", "If-Range": '"stale"'})

    assert (current.status, current.body) == (206, DATA[:2])
    assert (stale.status, stale.body) == (200, DATA)
    assert (weak.status, weak.body) == (200, DATA)
    assert (stale_unsatisfiable.status, stale_unsatisfiable.body) == (200, DATA)  # the whole file, not a 416


def test_an_empty_file_is_sent_whole_whatever_the_range(dav):
    assert dav("PUT", "/empty.txt", b"").status == 201

    reply = dav("GET", "/empty.txt", headers={"Range": "bytes=0-10"})

    assert (reply.status, reply.body) == (200, b"")
