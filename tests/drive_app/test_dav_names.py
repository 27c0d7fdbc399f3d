"""WebDAV names holding URL delimiters (``;``, ``?``, ``#``), ``%``, ``+``, spaces and
non-ASCII text, in process (the DAV application called as a WSGI application, on real
PostgreSQL and SeaweedFS): in the request path, and as the ``Destination`` of a COPY or
MOVE, which WsgiDAV decodes before parsing it (``a%3Bb.txt`` became ``a``). Over a real
server: ``test_dav_e2e.py``."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgidav import util

from drive_app.dav import build_wsgi_application, namespace
from drive_app.dav.validation import dav_path_of_url, destination_for_wsgidav
from drive_app.models import Item
from drive_app.services.items import workspace_for
from tests.drive_app.test_dav import LOCK_BODY, Dav, dav_error
from tests.factories import UserFactory

#: Names desktop clients send percent-encoded (Windows, macOS Finder, GNOME, rclone).
NAMES = [
    "a;b.txt",
    "what?.txt",
    "x#y.txt",
    "semi;colon?query#hash.txt",
    "100%.txt",
    "%41%2F%3F.txt",  # percent signs that must not be decoded a second time
    "a+b c.txt",
    "tête à tête;1.txt",
    "日本語?版.txt",
    "🎉 #1.txt",
]


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def dav(owner, token_for):
    return Dav(build_wsgi_application(), owner, token_for(owner, ["dav"]))


def live_titles(user) -> set[str]:
    return set(Item.objects.filter(parent=workspace_for(user), deleted_at__isnull=True).values_list("title", flat=True))


def cut_short(name: str) -> str:
    """The name WsgiDAV's parse of the Destination left: up to the first ``;`` or ``?``."""
    return re.split("[;?]", name)[0]


# --- Destination ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["MOVE", "COPY"])
@pytest.mark.parametrize("name", NAMES)
def test_a_destination_names_the_whole_name_and_never_a_shorter_one(dav, method, name):
    """With ``Overwrite: T``, the file named by the name cut short was replaced: data loss."""
    assert dav("PUT", "/source.txt", b"source").status == 201
    decoy = cut_short(name)
    if decoy != name:
        assert dav("PUT", f"/{decoy}", b"decoy").status == 201

    reply = dav(method, "/source.txt", headers={"Destination": dav.url(f"/{name}"), "Overwrite": "T"})

    assert reply.status == 201, reply.body
    assert dav("GET", f"/{name}").body == b"source"
    expected = {name, "source.txt"} if method == "COPY" else {name}
    assert live_titles(dav.user) == expected | ({decoy} if decoy != name else set())
    if decoy != name:
        assert dav("GET", f"/{decoy}").body == b"decoy"


@pytest.mark.django_db
def test_a_destination_in_decomposed_unicode_names_the_composed_file(dav):
    """macOS sends NFD names: a MOVE over an existing NFC name replaces that file's bytes
    (a new version), and never creates a second file beside it."""
    assert dav("PUT", "/café;1?.txt", b"old").status == 201
    assert dav("PUT", "/source.txt", b"new").status == 201

    reply = dav("MOVE", "/source.txt", headers={"Destination": dav.url(unicodedata.normalize("NFD", "/café;1?.txt"))})

    assert reply.status == 204, reply.body
    assert live_titles(dav.user) == {"café;1?.txt"}
    assert dav("GET", "/café;1?.txt").body == b"new"


@pytest.mark.django_db
def test_destinations_below_folders_with_delimiters_in_their_names(dav):
    """The parent of an escaped destination is looked up through the same escapes."""
    assert dav("MKCOL", "/x?y;z#/").status == 201
    assert dav("PUT", "/source.txt", b"source").status == 201

    moved = dav("MOVE", "/source.txt", headers={"Destination": dav.url("/x?y;z#/n;1?.txt")})
    copied = dav("COPY", "/x?y;z#/", headers={"Destination": dav.url("/copy;2?/")})

    assert (moved.status, copied.status) == (201, 201), (moved.body, copied.body)
    assert live_titles(dav.user) == {"x?y;z#", "copy;2?"}
    assert dav("GET", "/copy;2?/n;1?.txt").body == b"source"
    listing = dav.propfind("/copy;2?/", depth="1")
    assert [unquote(href) for href in listing.hrefs()] == ["/dav/copy;2?/", "/dav/copy;2?/n;1?.txt"]


@pytest.mark.django_db
def test_a_locked_destination_with_a_delimiter_needs_its_lock_token(dav):
    """WsgiDAV checks the locks of the destination it parsed: the whole name's (before, the
    MOVE created ``a`` beside the locked file)."""
    assert dav("PUT", "/a;b?.txt", b"locked").status == 201
    lock = dav("LOCK", "/a;b?.txt", LOCK_BODY, {"Depth": "0"})
    assert lock.status == 200
    token = lock.headers["lock-token"].strip("<>")
    assert dav("PUT", "/source.txt", b"source").status == 201
    destination = {"Destination": dav.url("/a;b?.txt"), "Overwrite": "T"}

    without_token = dav("MOVE", "/source.txt", headers=destination)
    with_token = dav("MOVE", "/source.txt", headers={**destination, "If": f"<{dav.url('/a;b?.txt')}> (<{token}>)"})

    dav_error(without_token, 423)
    assert with_token.status == 204, with_token.body
    assert live_titles(dav.user) == {"a;b?.txt"}
    assert dav("GET", "/a;b?.txt").body == b"source"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["MOVE", "COPY"])
def test_an_item_cannot_go_onto_or_into_itself_whatever_its_name(dav, method):
    """WsgiDAV refuses it by comparing paths, which the escaped ones never match."""
    assert dav("PUT", "/q?.txt", b"q").status == 201
    assert dav("MKCOL", "/f;1/").status == 201

    onto = dav(method, "/q?.txt", headers={"Destination": dav.url("/q?.txt"), "Overwrite": "T"})
    into = dav(method, "/f;1/", headers={"Destination": dav.url("/f;1/sub#/"), "Overwrite": "T"})

    dav_error(onto, 403)
    dav_error(into, 403)
    assert live_titles(dav.user) == {"q?.txt", "f;1"}
    assert dav("GET", "/q?.txt").body == b"q"
    assert [unquote(href) for href in dav.propfind("/f;1/").hrefs()] == ["/dav/f;1/"]


@pytest.mark.django_db
@pytest.mark.parametrize("destination", [
    "http://testserver/dav/what?.txt",  # a raw "?": a query, which would leave "what"
    "http://testserver/dav/what?",
    "/dav/x#y.txt",  # a raw "#": a fragment
    "http://testserver/dav/a\tb.txt",  # URL parsers drop a raw tab
])
def test_a_destination_with_a_query_a_fragment_or_a_raw_tab_is_a_bad_request(dav, destination):
    assert dav("PUT", "/source.txt", b"source").status == 201

    for method in ("MOVE", "COPY"):
        reply = dav(method, "/source.txt", headers={"Destination": destination, "Overwrite": "T"})
        dav_error(reply, 400, "invalid_header")
    assert live_titles(dav.user) == {"source.txt"}


@pytest.mark.django_db
def test_a_raw_semicolon_in_a_destination_is_part_of_the_name(dav):
    """RFC 3986 allows ``;`` in a path segment; only an old URL parser splits it off."""
    assert dav("PUT", "/source.txt", b"source").status == 201

    reply = dav("MOVE", "/source.txt", headers={"Destination": "http://testserver/dav/a;b.txt"})

    assert reply.status == 201, reply.body
    assert live_titles(dav.user) == {"a;b.txt"}


@pytest.mark.django_db
def test_a_raw_utf8_destination_names_the_utf8_name(dav):
    """A client that does not percent-encode sends the name's UTF-8 bytes, which reach WSGI
    as latin-1 text (``cafÃ©``)."""
    assert dav("PUT", "/source.txt", b"source").status == 201
    raw = "http://testserver/dav/café;1 été.txt".encode().decode("latin-1")

    reply = dav("MOVE", "/source.txt", headers={"Destination": raw})

    assert reply.status == 201, reply.body
    assert live_titles(dav.user) == {"café;1 été.txt"}


@pytest.mark.django_db
def test_an_encoded_tab_in_a_destination_is_refused_as_a_name_not_dropped(dav):
    """WsgiDAV's parser removed the decoded tab: ``a%09b.txt`` created ``ab.txt``."""
    assert dav("PUT", "/source.txt", b"source").status == 201

    reply = dav("MOVE", "/source.txt", headers={"Destination": dav.url("/a\tb.txt")})

    dav_error(reply, 422, "invalid_title")
    assert live_titles(dav.user) == {"source.txt"}


# --- the request path ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMES)
def test_put_get_propfind_mkcol_and_delete_of_names_with_delimiters(dav, name):
    folder = "dir " + name.replace(".txt", "")

    created = dav("PUT", f"/{name}", b"v1")
    replaced = dav("PUT", f"/{name}", b"v2")
    mkcol = dav("MKCOL", f"/{folder}/")
    inner = dav("PUT", f"/{folder}/{name}", b"inner")

    assert (created.status, replaced.status, mkcol.status, inner.status) == (201, 204, 201, 201)
    assert live_titles(dav.user) == {name, folder}
    assert dav("GET", f"/{name}").body == b"v2"
    assert dav("GET", f"/{folder}/{name}").body == b"inner"
    hrefs = dav.propfind("/", depth="1").hrefs()
    assert sorted(unquote(href) for href in hrefs) == sorted(["/dav/", f"/dav/{name}", f"/dav/{folder}/"])
    for href in hrefs:  # each delimiter encoded, each "%" an escape
        assert not re.search(r"[;?# +]|%(?![0-9A-F]{2})", href), href
    assert dav.propfind(f"/{folder}/{name}", depth="0").status == 207
    assert dav("DELETE", f"/{name}").status == 204
    assert live_titles(dav.user) == {folder}


# --- the Destination handed to WsgiDAV, as WsgiDAV parses it ---------------------------------------

SEGMENT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1).filter(
    lambda segment: segment not in {".", ".."}
)


def parsed_by_wsgidav(destination: str) -> str:
    """What WsgiDAV 4.4's COPY/MOVE acts on for a ``Destination`` (request_server.py,
    ``_copy_or_move``): decoded, parsed without fragments, normalized, the mount removed."""
    path = util.normalize_path(urlparse(unquote(destination), allow_fragments=False).path)
    assert path.startswith(namespace.MOUNT_PATH + "/")
    return path[len(namespace.MOUNT_PATH):]


@given(segments=st.lists(SEGMENT, min_size=1, max_size=4), host=st.sampled_from(["http://testserver", ""]))
def test_wsgidav_parses_the_destination_it_is_handed_back_to_the_path_the_client_named(segments, host):
    path = "/" + "/".join(segments)
    url = host + namespace.MOUNT_PATH + "".join("/" + "".join(f"%{byte:02X}" for byte in s.encode()) for s in segments)
    assert dav_path_of_url(url, header="Destination") == path

    handed = destination_for_wsgidav(url, path)

    assert namespace.unescape_path(parsed_by_wsgidav(handed)) == path
    assert handed.startswith(host + namespace.MOUNT_PATH + "/")  # the client's host, for WsgiDAV's check
