"""The DAV application: WsgiDAV with our provider, lock storage, property manager and
middlewares, served by the ASGI server through a2wsgi (a thread pool), mounted at ``/dav``.

Layers, outermost first:

1. :class:`MountedDav` (ASGI): marks ``/dav`` as the mount point (``root_path``), so the
   WSGI ``SCRIPT_NAME`` is ``/dav`` and WsgiDAV sees paths below it.
2. a2wsgi's ``WSGIMiddleware``: each request runs in a worker thread; the request body is
   read from the ASGI ``receive`` channel as WsgiDAV reads it (nothing buffered whole).
3. :class:`DatabaseScope` (WSGI): the request's database connection is released at its end,
   like Django does for its own requests.
4. :class:`~drive_app.dav.validation.RequestTargetGuard` (WSGI): a path no resource can
   have (a NUL, ``..`` above ``/dav/``) is answered 400 before WsgiDAV sees it.
5. ``WsgiDAVApp`` with the middlewares :class:`~drive_app.dav.errors.DavErrorRenderer`,
   :class:`~drive_app.dav.auth.DavBasicAuth` and :class:`DavRequestResolver`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.translation import gettext as _
from wsgidav import util
from wsgidav.dav_error import PRECONDITION_CODE_PropfindFiniteDepth
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.request_server import RequestServer
from wsgidav.wsgidav_app import WsgiDAVApp

from drive_app.dav.auth import DavBasicAuth
from drive_app.dav.errors import DavErrorRenderer, DavProblem
from drive_app.dav.locks import DavLockManager, DavLockStorage
from drive_app.dav.namespace import MOUNT_PATH
from drive_app.dav.properties import DeadPropertyManager
from drive_app.dav.provider import DriveDavProvider
from drive_app.dav.ranges import plan_range
from drive_app.dav.validation import (
    RequestTargetGuard,
    check_lock_owner,
    check_xml_depth,
    dav_path_of_url,
    destination_for_wsgidav,
)

#: Bytes WsgiDAV reads from a PUT body at a time (and sends of a GET body).
BLOCK_SIZE = 1024 * 1024
#: Largest XML request body (PROPFIND, PROPPATCH, LOCK): WsgiDAV reads those whole.
MAX_XML_BODY_BYTES = 1024 * 1024
XML_BODY_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "COPY", "MOVE"})


class DavRequestResolver(BaseMiddleware):
    """The innermost layer (in place of WsgiDAV's RequestResolver): one ``RequestServer``
    per request, with PROPFIND ``Depth: infinity`` refused (403 with the RFC 4918
    ``DAV:propfind-finite-depth`` precondition: a whole drive in one response would be
    unbounded work), bodies, header URLs and ranges checked first (``validation``,
    ``ranges``), and the ``Destination`` WsgiDAV reads replaced by one naming the path we
    parsed (``validation.destination_for_wsgidav``)."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method in XML_BODY_METHODS and util.get_content_length(environ) > MAX_XML_BODY_BYTES:
            raise DavProblem(413, _("The request body is too large."))
        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").strip().lower() == "infinity":
            raise DavProblem(
                403, _("Depth: infinity is not supported; list folders one level at a time (Depth: 1)."),
                code="propfind_finite_depth", condition=PRECONDITION_CODE_PropfindFiniteDepth,
            )
        if method in XML_BODY_METHODS:
            body = check_xml_depth(environ)
            if method == "LOCK" and body is not None:
                check_lock_owner(body)
        destination = None
        if method in ("COPY", "MOVE") and environ.get("HTTP_DESTINATION"):
            destination = dav_path_of_url(environ["HTTP_DESTINATION"], header="Destination")
            if destination is not None:  # WsgiDAV acts on our parse of it, never on its own
                environ["HTTP_DESTINATION"] = destination_for_wsgidav(environ["HTTP_DESTINATION"], destination)
        if environ.get("HTTP_IF"):
            _tag_if_conditions(environ)
        if destination is not None and method == "MOVE" and (environ.get("HTTP_OVERWRITE") or "").strip().upper() == "F":
            _renaming_in_case_overwrites_nothing(environ, destination)
        if method in ("GET", "HEAD") and environ.get("HTTP_RANGE"):
            resource = environ["wsgidav.provider"].get_resource_inst(environ.get("PATH_INFO") or "/", environ)
            if resource is not None and not resource.is_collection:
                plan_range(environ, resource)
        server = RequestServer(environ["wsgidav.provider"])
        server.allow_propfind_infinite = False
        yield from server(environ, start_response)


def _tag_if_conditions(environ: dict[str, Any]) -> None:
    """Key the tagged lists of an ``If:`` header (RFC 4918 10.4.2: ``<url> (<token>
    ["etag"])``) by the canonical URL of the resource they name, which is what WsgiDAV
    compares them with; a tag naming nothing the user can see keeps its URL (it then
    matches no resource, as a list for a missing resource should)."""
    util.parse_if_header_dict(environ)
    conditions = environ.get("wsgidav.conditions.if") or {}
    provider = environ["wsgidav.provider"]
    tagged: dict[str, Any] = {}
    for tag, lists in conditions.items():
        key = tag
        if tag != "*":
            path = dav_path_of_url(tag, header="If")
            if path is not None:
                resource = provider.get_resource_inst(path, environ)
                if resource is not None:
                    key = resource.get_ref_url()
        tagged.setdefault(key, []).extend(lists)
    environ["wsgidav.conditions.if"] = tagged


def _renaming_in_case_overwrites_nothing(environ: dict[str, Any], path: str) -> None:
    """A MOVE to the same name in another case (``report.txt`` to ``Report.txt``, ``path``
    being the destination's DAV path) finds the source itself at the destination, names
    being unique case-insensitively: a rename, not an overwrite. GNOME (gvfs) renames with
    ``Overwrite: F``; WsgiDAV would answer 412."""
    provider = environ["wsgidav.provider"]
    source = provider.get_resource_inst(environ.get("PATH_INFO") or "/", environ)
    target = provider.get_resource_inst(path, environ)
    same = getattr(getattr(source, "item", None), "pk", None)
    if same is not None and same == getattr(getattr(target, "item", None), "pk", None):
        environ["HTTP_OVERWRITE"] = "T"


def _release_connection() -> None:
    # Never inside a transaction (a test's, or a caller's): closing would break it.
    if not connection.in_atomic_block:
        close_old_connections()


class DatabaseScope:
    """Release the thread's database connection at the start and end of each request."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        _release_connection()
        iterable = self.app(environ, start_response)
        try:
            yield from iterable
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
            _release_connection()


def build_wsgi_application() -> Any:
    """The WSGI DAV application (one per process)."""
    provider = DriveDavProvider()
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": MOUNT_PATH,
        "lock_storage": False,  # ours is installed below, with cross-process acquisition
        "property_manager": DeadPropertyManager(),
        "middleware_stack": [DavErrorRenderer, DavBasicAuth, DavRequestResolver],
        "http_authenticator": {"accept_basic": False, "accept_digest": False, "domain_controller": None},
        "verbose": 1,
        "logging": {"enable": False},
        "suppress_version_info": True,
        "block_size": BLOCK_SIZE,
        "dir_browser": {"enable": False},
    }
    application = WsgiDAVApp(config)
    provider.set_lock_manager(DavLockManager(DavLockStorage()))
    return DatabaseScope(RequestTargetGuard(application))


class MountedDav:
    """The ASGI application mounted at ``/dav`` (built on first use, in the serving process)."""

    def __init__(self) -> None:
        self._asgi: Any = None
        self._lock = threading.Lock()

    def _application(self) -> Any:
        if self._asgi is None:
            with self._lock:
                if self._asgi is None:
                    # DRIVE_DAV_THREADS workers: an upload holds one for its duration (and a
                    # database connection of the pool while it runs its queries).
                    self._asgi = WSGIMiddleware(build_wsgi_application(), workers=settings.DRIVE_DAV_THREADS)
        return self._asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if path == MOUNT_PATH:
            path = MOUNT_PATH + "/"
        scope = {**scope, "path": path, "root_path": MOUNT_PATH}
        await self._application()(scope, receive, send)


asgi_application = MountedDav()
