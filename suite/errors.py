"""One error type and one error shape for every failure.

Every error that leaves the server, whatever raised it (a service, ninja's validation, Django's
URL resolver, the CSRF check, an unexpected exception), has the body::

    {"error": {"code": "<machine code>", "message": "<human, translated>", "details": {...}}}

Services raise :class:`SuiteError` (or an app subclass with its own codes); the API turns it
into a response with :func:`error_response`. :class:`JsonErrorMiddleware` rewrites the bare
error responses that Django and ninja produce outside our handlers (405, 404 of unknown URLs,
CSRF failures) so clients never have to parse two shapes.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


class ErrorCode(enum.StrEnum):
    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    URI_TOO_LONG = "uri_too_long"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    CSRF_FAILED = "csrf_failed"


DEFAULT_STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.URI_TOO_LONG: 414,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}

STATUS_CODES = {status: code for code, status in DEFAULT_STATUS.items()}
STATUS_CODES[403] = ErrorCode.PERMISSION_DENIED


def _default_message(code: str) -> str:
    messages = {
        ErrorCode.BAD_REQUEST: _("The request is malformed."),
        ErrorCode.VALIDATION_ERROR: _("The request contains invalid data."),
        ErrorCode.NOT_AUTHENTICATED: _("Authentication is required."),
        ErrorCode.PERMISSION_DENIED: _("You do not have permission to perform this action."),
        ErrorCode.CSRF_FAILED: _("CSRF verification failed."),
        ErrorCode.NOT_FOUND: _("Not found."),
        ErrorCode.METHOD_NOT_ALLOWED: _("This method is not allowed here."),
        ErrorCode.CONFLICT: _("The request conflicts with the current state."),
        ErrorCode.PAYLOAD_TOO_LARGE: _("The request body is too large."),
        ErrorCode.URI_TOO_LONG: _("The URL is too long."),
        ErrorCode.UNSUPPORTED_MEDIA_TYPE: _("Unsupported media type."),
        ErrorCode.RATE_LIMITED: _("Too many requests; try again later."),
        ErrorCode.INTERNAL_ERROR: _("An internal error occurred."),
        ErrorCode.SERVICE_UNAVAILABLE: _("The service is temporarily unavailable."),
    }
    return str(messages.get(code, _("An error occurred.")))  # type: ignore[call-overload]


class SuiteError(Exception):
    """An error meant for the client: a machine code, a status and a human message.

    Apps subclass it to give their own default code and status, e.g.
    ``class DocumentMoveError(SuiteError): code = "invalid_move"; status = 400``.
    """

    code: str = ErrorCode.BAD_REQUEST
    status: int = 400

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        if code is not None:
            self.code = code
            if status is None and code in DEFAULT_STATUS:
                status = DEFAULT_STATUS[ErrorCode(code)]
        if status is not None:
            self.status = status
        self.message = message if message is not None else _default_message(self.code)
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(SuiteError):
    code = ErrorCode.NOT_FOUND
    status = 404


class PermissionDenied(SuiteError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403


class NotAuthenticated(SuiteError):
    code = ErrorCode.NOT_AUTHENTICATED
    status = 401


class Conflict(SuiteError):
    code = ErrorCode.CONFLICT
    status = 409


class ValidationFailed(SuiteError):
    code = ErrorCode.VALIDATION_ERROR
    status = 422


class RateLimited(SuiteError):
    code = ErrorCode.RATE_LIMITED
    status = 429


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": str(code), "message": str(message), "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    response = JsonResponse(
        error_body(code, message or _default_message(code), details), status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def suite_error_response(exc: SuiteError) -> JsonResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def body_too_large(limit: int) -> JsonResponse:
    """413 for a request body over ``limit`` bytes (see ``suite.limits``)."""
    return error_response(
        413, ErrorCode.PAYLOAD_TOO_LARGE,
        _("The request body is larger than %(limit)s bytes.") % {"limit": limit},
        details={"max_bytes": limit},
    )


# Responses under these prefixes keep their protocol's own error bodies (WebDAV XML, WOPI).
PROTOCOL_PREFIXES = ("/dav/", "/wopi/", "/static/")
# Responses whose JSON body is their own report (readiness checks), kept as they are.
OWN_BODY_PATHS = ("/readyz",)


class JsonErrorMiddleware:
    """Rewrite bare (non-JSON) error responses into the uniform error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or request.path.startswith(PROTOCOL_PREFIXES)
            or (request.path in OWN_BODY_PATHS and response.status_code == 503)
        ):
            return response
        if getattr(response, "streaming", False):
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json") and _is_uniform(response.content):
            return response
        code = STATUS_CODES.get(response.status_code)
        if code is None:
            code = ErrorCode.BAD_REQUEST if response.status_code < 500 else ErrorCode.INTERNAL_ERROR
        details: dict[str, Any] = {}
        if response.status_code == 405 and response.has_header("Allow"):
            details["allowed_methods"] = [m.strip() for m in response["Allow"].split(",")]
        rewritten = error_response(response.status_code, code, details=details)
        for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID"):
            if response.has_header(header):
                rewritten[header] = response[header]
        return rewritten


_NUL_MARKERS = (b"\x00", b"\\u0000")
_TEXT_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/")
_JSON_BODY_TYPES = ("application/json",)
# A surrogate as a character (a server that decodes with surrogateescape), or percent-encoded
# in a URL: ED A0-BF is how a surrogate would be written in UTF-8, which forbids it.
_SURROGATE_CHARACTER = re.compile("[\ud800-\udfff]")
_SURROGATE_PERCENT = re.compile("%ed%(?:a|b)[0-9a-f]", re.IGNORECASE)
_SURROGATE_BYTES = re.compile(b"\xed[\xa0-\xbf]")
# A JSON escape of a surrogate half, with the run of backslashes before it: an even run is
# escaped backslashes followed by plain text, not an escape.
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")


def _has_lone_surrogate_escape(body: bytes) -> bool:
    """Whether a JSON text holds a ``\\uD800``-``\\uDFFF`` escape that is not one half of a
    pair (high then low, next to each other; RFC 8259 section 7)."""
    if b"\\ud" not in body and b"\\uD" not in body:
        return False
    pending_high_end = None
    for match in _SURROGATE_ESCAPE.finditer(body):
        if len(match.group(1)) % 2 == 0:
            continue
        escape_start = match.end(1) - 1
        is_high = match.group(2) in b"89abAB"
        if pending_high_end is not None:
            if not is_high and escape_start == pending_high_end:
                pending_high_end = None  # a pair: one character outside the BMP
                continue
            return True
        if not is_high:
            return True
        pending_high_end = match.end()
    return pending_high_end is not None


def invalid_text(request: HttpRequest) -> str | None:
    """Why the request holds text that no endpoint can store, or None.

    ``nul_character``: PostgreSQL text cannot hold NUL. ``lone_surrogate``: half of a UTF-16
    surrogate pair is no Unicode character; psycopg and pycrdt cannot encode it (a JSON
    ``"\\ud800"`` decodes to one). Both are refused at the door, in the path, the query string
    or a JSON/form/text body, instead of failing deep in a query or a CRDT update."""
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in request.path or "%00" in query.lower() or "\x00" in query:
        return "nul_character"
    for text in (request.path, query):
        if _SURROGATE_CHARACTER.search(text) or _SURROGATE_PERCENT.search(text):
            return "lone_surrogate"
    content_type = request.content_type or ""
    if content_type.startswith(_TEXT_BODY_TYPES):
        try:
            body = request.body
        except RequestDataTooBig:
            raise
        except Exception:  # noqa: BLE001 -- a body we cannot read is handled by the view
            return None
        if any(marker in body for marker in _NUL_MARKERS):
            return "nul_character"
        charset = (request.content_params or {}).get("charset", "utf-8").lower()
        if (charset in ("utf-8", "utf8") and _SURROGATE_BYTES.search(body)) or (
            content_type.startswith(_JSON_BODY_TYPES) and _has_lone_surrogate_escape(body)
        ):
            return "lone_surrogate"
    return None


def _invalid_text_message(reason: str) -> str:
    if reason == "nul_character":
        return _("NUL characters are not allowed in requests.")
    return _("Unpaired surrogate code points (U+D800 to U+DFFF) are not allowed in requests.")


class InputGuardMiddleware:
    """Rejects input that no endpoint can accept (NUL characters, lone surrogates) with a
    uniform 400 whose ``details.reason`` says which, and a body larger than any endpoint
    accepts with 413."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PROTOCOL_PREFIXES):
            try:
                reason = invalid_text(request)
            except RequestDataTooBig:  # over the largest limit of any endpoint
                return body_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            if reason is not None:
                return error_response(
                    400, ErrorCode.BAD_REQUEST, _invalid_text_message(reason),
                    details={"reason": reason},
                )
        return self.get_response(request)


def _is_uniform(content: bytes) -> bool:
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]


# Django-level handlers (unknown URLs, uncaught exceptions outside the API, CSRF failures).
def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(404, ErrorCode.NOT_FOUND)


def handler500(request: HttpRequest) -> HttpResponse:
    return error_response(500, ErrorCode.INTERNAL_ERROR)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(400, ErrorCode.BAD_REQUEST)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(403, ErrorCode.PERMISSION_DENIED)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_response(403, ErrorCode.CSRF_FAILED, details={"reason": reason})
