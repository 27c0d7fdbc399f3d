"""What a DAV request may say, checked before WsgiDAV reads it: the path, the URLs of the
``Destination`` and ``If`` headers, and the nesting of XML bodies.

Bad input gets a ``DAV:error`` with status 400 (RFC 4918 8.7: a malformed request), never a
500 from a lookup PostgreSQL refuses (a NUL character), a URL parser's ``ValueError`` or a
recursion error while serializing an XML value.

- **Paths** (:class:`RequestTargetGuard`, outside WsgiDAV: its own refusal of a path leaving
  the mount point is returned from a generator and so loses its body): no NUL character,
  and no ``..`` climbing above ``/dav/``.
- **URLs in headers** (:func:`dav_path_of_url`): parsed once, the same way for ``Destination``
  and for the tagged lists of ``If``; a query or a fragment is refused (a client that left a
  name's ``?`` or ``#`` unencoded would get a shorter name). WsgiDAV acts on the path parsed
  here, not on its own parse of the Destination (:func:`destination_for_wsgidav`).
- **XML bodies** (:func:`check_xml_depth`): at most :data:`MAX_XML_DEPTH` levels. The
  parser builds the tree without recursion, but WsgiDAV serializes dead property values and
  lock owners recursively (Python's recursion limit is 1,000 frames).
- **Lock owners** (:func:`check_lock_owner`): at most :data:`MAX_LOCK_OWNER_BYTES`, refused
  with 413 before anything is created (a LOCK of an unmapped URL creates an empty file).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlparse, urlsplit, urlunsplit

from defusedxml import ElementTree as SafeET
from django.utils.translation import gettext as _
from wsgidav import util, xml_tools
from wsgidav.dav_error import DAVError

from drive_app.dav import namespace
from drive_app.dav.errors import DavErrorRenderer, DavProblem
from drive_app.dav.namespace import MOUNT_PATH

#: Deepest XML request body accepted (PROPPATCH, LOCK, PROPFIND); dead property values have
#: their own, lower limit (``properties.MAX_VALUE_DEPTH``).
MAX_XML_DEPTH = 100
#: Largest ``DAV:owner`` of a LOCK, as WsgiDAV stores it (the element serialized, with its
#: XML declaration): it is kept with the lock and sent back in every ``DAV:lockdiscovery``
#: of the resource. Clients put a name, an address or a URL there (a few hundred bytes).
MAX_LOCK_OWNER_BYTES = 4 * 1024


def _invalid_path(message: str) -> DavProblem:
    return DavProblem(400, message, code="invalid_path")


def checked_path(path: str) -> str:
    """``path`` (below the mount point) normalized as WsgiDAV routes it, or a 400."""
    if "\x00" in path:
        raise _invalid_path(_("A path cannot contain a NUL character."))
    try:
        return util.normalize_path(path)
    except DAVError:
        raise _invalid_path(_("The path leads outside the drive.")) from None


def _utf8_text(value: str) -> str:
    """A WSGI header value (its bytes as latin-1 text) read as UTF-8, when it is UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def dav_path_of_url(url: str, *, header: str) -> str | None:
    """The DAV path (below ``/dav``) a URL of the ``header`` request header names; None for a
    URL outside ``/dav/``; a 400 for one that is not a URL, has a query or a fragment, or
    names an impossible path.

    A query or fragment is not a name's text for RFC 3986: a client that left a name's
    ``?`` or ``#`` unencoded (``what?.txt``) would move or copy onto a shorter name, maybe
    over another file; so it is refused (encoded, ``%3F`` and ``%23`` are a name's text).
    Raw tabs and line breaks, which URL parsers silently remove, are refused likewise.
    Header values reach WSGI as latin-1 text: a raw (unencoded) UTF-8 name is read as
    UTF-8, as WsgiDAV reads the request path."""
    url = _utf8_text(url)
    if "?" in url or "#" in url:
        raise DavProblem(
            400, _("The %(header)s header has a query or a fragment; in a name, write “?” as %%3F and “#” as %%23.")
            % {"header": header}, code="invalid_header",
        )
    if any(char in url for char in "\t\r\n"):
        raise DavProblem(
            400, _("The %(header)s header is not a valid URL.") % {"header": header}, code="invalid_header",
        )
    try:
        path = unquote(urlsplit(url).path)
        # How WsgiDAV reads a Destination (decoded first, then parsed): it must not fail either.
        urlparse(unquote(url), allow_fragments=False)
    except ValueError:
        raise DavProblem(
            400, _("The %(header)s header is not a valid URL.") % {"header": header}, code="invalid_header",
        ) from None
    if path != MOUNT_PATH and not path.startswith(MOUNT_PATH + "/"):
        return None
    return checked_path(path[len(MOUNT_PATH):] or "/")


def destination_for_wsgidav(url: str, path: str) -> str:
    """The ``Destination`` to hand WsgiDAV for the client's ``url``, whose DAV path is
    ``path`` (:func:`dav_path_of_url`).

    WsgiDAV decodes a Destination and then parses it as a URL (``urlparse(unquote(url))``),
    so a name's ``%3B`` or ``%3F`` became a ``;`` or ``?`` that cut the name short: a MOVE to
    ``a%3Bb.txt`` created ``a``, and with ``Overwrite: T`` replaced an existing ``a``. No
    encoding survives that parse with a ``?`` in the path, so this URL decodes to ``path``
    with the characters the parser loses escaped (``namespace.escape_for_parser``), which the
    provider reads back (``namespace.split_path``). The scheme and host stay the client's,
    for WsgiDAV's same-server check."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, quote(MOUNT_PATH + namespace.escape_for_parser(path)), "", ""))


def check_xml_depth(environ: dict[str, Any]) -> Any:
    """Refuse an XML body nested deeper than :data:`MAX_XML_DEPTH` (the caller has already
    bounded its size); the parsed body, or None for none. The body is read here and handed
    back to WsgiDAV as it was; one that does not parse is left for WsgiDAV to refuse (400)."""
    length = util.get_content_length(environ)
    if length <= 0:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    # Read off the connection: a refusal need not close it (``DavErrorRenderer``).
    environ["wsgidav.some_input_read"] = environ["wsgidav.all_input_read"] = 1
    try:
        root = SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 -- WsgiDAV parses it again and answers 400
        return None
    if element_depth(root) > MAX_XML_DEPTH:
        raise DavProblem(
            400, _("The XML body is nested too deeply (at most %(max)s levels).") % {"max": MAX_XML_DEPTH},
            code="xml_too_deep",
        )
    return root


def check_lock_owner(lockinfo: Any) -> None:
    """Refuse a LOCK body (``lockinfo``, parsed) whose ``DAV:owner`` is larger than
    :data:`MAX_LOCK_OWNER_BYTES` as WsgiDAV would store it: 413, the body being larger than
    the server is willing to process for a lock (RFC 9110 15.5.14; RFC 4918 defines no
    precondition for it), before WsgiDAV creates the empty file of an unmapped URL."""
    if lockinfo.tag != "{DAV:}lockinfo":
        return
    for owner in lockinfo.iterfind("{DAV:}owner"):
        if len(xml_tools.xml_to_bytes(owner, pretty=False)) > MAX_LOCK_OWNER_BYTES:
            raise DavProblem(
                413, _("The lock owner is larger than %(max)s bytes.") % {"max": MAX_LOCK_OWNER_BYTES},
                code="lock_owner_too_large",
            )


def element_depth(element: Any) -> int:
    """Levels of ``element``'s tree (1 for an element without children), without recursion."""
    deepest, pending = 0, [(element, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in node)
    return deepest


class RequestTargetGuard:
    """WSGI layer in front of WsgiDAV: a request whose path no resource can have (see
    :func:`checked_path`) is answered 400 here, before authentication (it names nothing)."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path != "*":
            try:
                try:
                    decoded = util.re_encode_wsgi(path)
                except UnicodeError:
                    raise _invalid_path(_("The path is not valid UTF-8.")) from None
                checked_path(decoded)
            except DavProblem as problem:
                return DavErrorRenderer.send_problem(environ, start_response, problem)
        return self.app(environ, start_response)
