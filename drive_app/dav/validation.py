"""What a DAV request may say, checked before WsgiDAV reads it: the path, the URLs of the
``Destination`` and ``If`` headers, and the nesting of XML bodies.

Bad input gets a ``DAV:error`` with status 400 (RFC 4918 8.7: a malformed request), never a
500 from a lookup PostgreSQL refuses (a NUL character), a URL parser's ``ValueError`` or a
recursion error while serializing an XML value.

- **Paths** (:class:`RequestTargetGuard`, outside WsgiDAV: its own refusal of a path leaving
  the mount point is returned from a generator and so loses its body): no NUL character,
  and no ``..`` climbing above ``/dav/``.
- **URLs in headers** (:func:`dav_path_of_url`): parsed once, the same way for ``Destination``
  and for the tagged lists of ``If``.
- **XML bodies** (:func:`check_xml_depth`): at most :data:`MAX_XML_DEPTH` levels. The
  parser builds the tree without recursion, but WsgiDAV serializes dead property values and
  lock owners recursively (Python's recursion limit is 1,000 frames).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlparse, urlsplit

from defusedxml import ElementTree as SafeET
from django.utils.translation import gettext as _
from wsgidav import util
from wsgidav.dav_error import DAVError

from drive_app.dav.errors import DavErrorRenderer, DavProblem
from drive_app.dav.namespace import MOUNT_PATH

#: Deepest XML request body accepted (PROPPATCH, LOCK, PROPFIND); dead property values have
#: their own, lower limit (``properties.MAX_VALUE_DEPTH``).
MAX_XML_DEPTH = 100


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


def dav_path_of_url(url: str, *, header: str) -> str | None:
    """The DAV path (below ``/dav``) a URL of the ``header`` request header names; None for a
    URL outside ``/dav/``; a 400 for one that is not a URL or names an impossible path."""
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


def check_xml_depth(environ: dict[str, Any]) -> None:
    """Refuse an XML body nested deeper than :data:`MAX_XML_DEPTH` (the caller has already
    bounded its size). The body is read here and handed back to WsgiDAV as it was; one that
    does not parse is left for WsgiDAV to refuse (400)."""
    length = util.get_content_length(environ)
    if length <= 0:
        return
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    # Read off the connection: a refusal need not close it (``DavErrorRenderer``).
    environ["wsgidav.some_input_read"] = environ["wsgidav.all_input_read"] = 1
    try:
        root = SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 -- WsgiDAV parses it again and answers 400
        return
    if element_depth(root) > MAX_XML_DEPTH:
        raise DavProblem(
            400, _("The XML body is nested too deeply (at most %(max)s levels).") % {"max": MAX_XML_DEPTH},
            code="xml_too_deep",
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
