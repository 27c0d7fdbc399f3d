"""DAV error responses: our service errors mapped to WebDAV statuses, and every error body an
RFC 4918 ``DAV:error`` XML document (section 16), never an HTML page.

The body names the precondition that failed when there is one (``DAV:no-conflicting-lock``
with the locked resources, ``DAV:propfind-finite-depth``...) and, in our own namespace, a
machine code and a human message (the same codes as the REST API)::

    <D:error xmlns:D="DAV:" xmlns:C="urn:communs:dav">
      <C:code>quota_exceeded</C:code>
      <C:message>Not enough space left: ...</C:message>
    </D:error>
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _
from wsgidav import util
from wsgidav.dav_error import ERROR_DESCRIPTIONS, DAVError, DAVErrorCondition
from wsgidav.mw.base_mw import BaseMiddleware

from drive_app.dav import namespace
from drive_app.dav.session import CREATED_KEY, ENVIRON_KEY, DavSession, current_session
from suite.errors import SuiteError

logger = logging.getLogger(__name__)

COMMUNS_NS = "urn:communs:dav"
ET.register_namespace("D", "DAV:")
ET.register_namespace("C", COMMUNS_NS)

#: Machine codes for statuses WsgiDAV raises itself (without one of our codes).
STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_error",
    423: "locked",
    424: "failed_dependency",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    507: "insufficient_storage",
}
REASONS = {
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 412: "Precondition Failed", 413: "Payload Too Large", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    507: "Insufficient Storage",
}
# WsgiDAV writes the statuses of a multistatus (``<D:status>``) from its own table, which
# lacks some (a property refused for lack of room read "507 Status"): it learns ours.
for _status, _reason in REASONS.items():
    ERROR_DESCRIPTIONS.setdefault(_status, f"{_status} {_reason}")

#: Service error codes whose DAV status differs from the REST API's.
STATUS_FOR_CODE = {
    "size_mismatch": 400,  # the body did not have its Content-Length
    "type_denied": 415,
    "type_mismatch": 415,
    "invalid_move": 403,  # RFC 4918 9.9.4: a collection moved into itself
    "invalid_copy": 403,
}


class DavProblem(DAVError):
    """A DAVError carrying our machine code and message, rendered as a ``DAV:error`` body
    wherever WsgiDAV sends it (raised, or returned in a handler's error list)."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        condition: DAVErrorCondition | str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ):
        super().__init__(status, message, err_condition=condition, add_headers=headers)
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message

    def get_response_page(self) -> tuple[str, bytes]:
        return "application/xml; charset=utf-8", error_body(self)

    def get_user_info(self) -> str:
        """What WsgiDAV writes into a multistatus ``DAV:responsedescription`` (PROPPATCH):
        the status and our message, never the source exception's text."""
        return f"{status_line(int(self.value))}: {self.message or default_message(int(self.value))}"


def problem_from(exc: SuiteError) -> DavProblem:
    """The DAV error for a service error (same code and message as the REST API)."""
    status = STATUS_FOR_CODE.get(str(exc.code), exc.status)
    headers = list(exc.headers.items()) or None
    return DavProblem(status, exc.message, code=str(exc.code), headers=headers)


def as_problem(exc: BaseException) -> DavProblem:
    """Any exception as a DAV error: ours and WsgiDAV's keep their status, anything else is
    a 500 whose details stay in the log."""
    if isinstance(exc, DavProblem):
        return exc
    if isinstance(exc, SuiteError):
        return problem_from(exc)
    if isinstance(exc, DAVError):
        if exc.value == 500 and exc.src_exception is not None:
            logger.error("DAV request failed", exc_info=exc.src_exception)
            return DavProblem(500, _("An internal error occurred."))
        # WsgiDAV's context is English developer text (a path, its configuration options, a
        # link to its repository): for the log only; the client gets our message.
        if exc.context_info:
            logger.debug("DAV request refused (%s): %s", exc.value, exc.context_info)
        return DavProblem(exc.value, condition=exc.err_condition, headers=exc.add_headers)
    logger.exception("DAV request failed")
    return DavProblem(500, _("An internal error occurred."))


def _user_href(ref: str, session: DavSession | None) -> str:
    """A locked resource's href as the user sees it (lock roots are stored as canonical
    URLs, see ``namespace.ref_of``)."""
    if session is None or not ref.startswith("/"):
        return ref
    path = namespace.dav_path_of_ref(session, ref)
    return namespace.href_of(path) if path is not None else ref


def default_message(status: int) -> str:
    messages = {
        400: _("The request is malformed."),
        401: _("Sign in with your email and an app password."),
        403: _("You do not have permission to perform this action."),
        404: _("Not found."),
        405: _("This method is not allowed on this resource."),
        409: _("The request conflicts with the current state."),
        412: _("A precondition of the request failed."),
        413: _("The request body is too large."),
        415: _("This request body is not supported."),
        416: _("The requested range is outside the file."),
        422: _("The request cannot be processed."),
        423: _("This resource is locked."),
        424: _("Not done: another change of the same request failed."),
        500: _("An internal error occurred."),
        501: _("This method is not supported."),
        502: _("The destination is not on this server."),
        507: _("Not enough space left."),
    }
    return str(messages.get(status, REASONS.get(status, "")))


def error_body(problem: DAVError, session: DavSession | None = None) -> bytes:
    """The ``DAV:error`` document of ``problem``; ``session`` maps lock roots to the user's
    hrefs (default: the request's session, while it is active)."""
    status = int(problem.value)
    session = session or current_session()
    root = ET.Element("{DAV:}error")
    condition = problem.err_condition
    if condition is not None:
        element = ET.SubElement(root, condition.condition_code)
        for href in condition.hrefs:
            ET.SubElement(element, "{DAV:}href").text = _user_href(href, session)
    code = getattr(problem, "code", None) or STATUS_CODES.get(status, "error")
    message = getattr(problem, "message", None) or default_message(status)
    ET.SubElement(root, f"{{{COMMUNS_NS}}}code").text = str(code)
    if message:
        ET.SubElement(root, f"{{{COMMUNS_NS}}}message").text = str(message)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def status_line(status: int) -> str:
    return f"{status} {REASONS[status]}" if status in REASONS else util.get_http_status_string(status)


def _without_date(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """WsgiDAV adds a Date header; the ASGI server adds its own (one Date per response)."""
    return [(name, value) for name, value in headers if name.lower() != "date"]


#: Headers describing a body, dropped with the body of a WsgiDAV status page.
BODY_HEADERS = frozenset({"content-type", "content-length"})


def _status_page(status: str, headers: list[tuple[str, str]]) -> bool:
    """Whether WsgiDAV is sending one of its HTML status pages (``DAVError.
    get_response_page``: a 201 after PUT, MKCOL, COPY or MOVE, an error it answers without
    raising) rather than a resource: files are only ever sent with 200 or 206."""
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    return content_type.lower().startswith("text/html") and not status.startswith(("200", "206"))


class DavErrorRenderer(BaseMiddleware):
    """Outermost DAV middleware (in place of WsgiDAV's ErrorPrinter): turns every error into
    a ``DAV:error`` response and holds the status line back until the first body chunk, so
    an error raised while the body is being prepared (an S3 read failing) still gets a
    proper status. WsgiDAV's own HTML status pages never reach the client: a success is
    answered with an empty body, an error with our ``DAV:error`` document."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        pending: list[tuple[str, list[tuple[str, str]], Any]] = []

        def deferred_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if environ.get(CREATED_KEY) and status.startswith("204"):
                status = "201 Created"
            pending[:] = [(status, _without_date(headers), exc_info)]
            return lambda chunk: None  # WsgiDAV never uses the write() callable

        started = False
        try:
            app_iter = self.next_app(environ, deferred_start)
            try:
                for chunk in app_iter:
                    if not started:
                        if _status_page(*pending[0][:2]):
                            break  # its body is replaced below
                        start_response(*pending[0])
                        started = True
                    yield chunk
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
            if not started:
                status, headers, exc_info = pending[0]
                if _status_page(status, headers):
                    yield from self._replace_status_page(environ, start_response, status, headers)
                    return
                start_response(status, headers, exc_info)
            return
        except Exception as exc:  # noqa: BLE001 -- every failure becomes a DAV error response
            if started:
                # The status line is out: the only honest signal left is a broken connection.
                logger.exception("DAV response failed while streaming")
                raise
            problem = as_problem(exc)
        yield from self.send_problem(environ, start_response, problem)

    @classmethod
    def _replace_status_page(cls, environ: dict[str, Any], start_response: Any, status: str,
                             headers: list[tuple[str, str]]) -> Iterator[bytes]:
        kept = [(name, value) for name, value in headers if name.lower() not in BODY_HEADERS]
        code = int(status.split()[0])
        if code >= 400:
            yield from cls.send_problem(environ, start_response, DavProblem(code, headers=kept or None))
            return
        start_response(status, [("Content-Length", "0"), *kept])
        yield b""

    @staticmethod
    def send_problem(environ: dict[str, Any], start_response: Any, problem: DavProblem) -> Iterator[bytes]:
        """Answer ``problem`` as a ``DAV:error`` response."""
        status = int(problem.value)
        headers: list[tuple[str, str]] = []
        if problem.add_headers:
            headers += list(problem.add_headers)
        unread_body = util.get_content_length(environ) != 0 and not environ.get("wsgidav.some_input_read")
        if unread_body:
            # Refused before its body was read (auth, rights, quota): do not make the client
            # send the rest of a large upload only for it to be discarded.
            headers.append(("Connection", "close"))
        if status in (204, 304):
            start_response(status_line(status), [("Content-Length", "0"), *headers])
            yield b""
            return
        body = error_body(problem, environ.get(ENVIRON_KEY))
        start_response(
            status_line(status),
            [("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", str(len(body))), *headers],
        )
        yield b"" if environ.get("REQUEST_METHOD") == "HEAD" else body
