"""``/wopi/files/<id>`` and ``/wopi/files/<id>/contents``: the WOPI REST endpoints office
servers call (plain Django views: the protocol's headers, bodies and status codes are not a
JSON API's).

The office server, not a browser, calls them: no session, no CSRF (``csrf_exempt``); the
``access_token`` query parameter (or an ``Authorization: Bearer`` header, which Collabora
also sends) is the only credential. Errors carry the uniform error body plus the headers
the protocol defines (``X-WOPI-Lock``...); the platform's error middleware leaves ``/wopi/``
responses as they are. Once the token has authorized a request, its proof that the office
server sent it is checked (:mod:`.proof`, as ``WOPI_PROOF_KEYS`` says).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from drive_app.wopi import discovery, locks, operations, proof
from drive_app.wopi.errors import NotImplementedOperation, WopiError
from drive_app.wopi.operations import WopiSession, item_version
from suite.errors import SuiteError, error_body, error_response
from suite.storage.responses import streaming_body

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest, WopiSession], HttpResponseBase]


def _token(request: HttpRequest) -> str | None:
    token = request.GET.get("access_token")
    if token:
        return token
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _integer_header(request: HttpRequest, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise WopiError(_("%(header)s must be a non-negative integer.") % {"header": name},
                        code="bad_request", status=400, details={"header": name})
    return value


def _content_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH") or ""
    return int(raw) if raw.isdigit() else None


def _no_store(response: HttpResponseBase, version: str | None = None) -> HttpResponseBase:
    # The URLs carry access tokens: nothing here may be cached by a proxy.
    response["Cache-Control"] = "no-store"
    if version is not None:
        response["X-WOPI-ItemVersion"] = version
    return response


def _error(exc: SuiteError) -> HttpResponse:
    extra = getattr(exc, "body_extra", None)
    if extra:
        response: HttpResponse = JsonResponse({**extra, **error_body(exc.code, exc.message, exc.details)},
                                              status=exc.status)
        for name, value in exc.headers.items():
            response[name] = value
    else:
        response = error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    response["Cache-Control"] = "no-store"
    return response


def _serve(request: HttpRequest, file_id: str, handlers: dict[str, Handler]) -> HttpResponseBase:
    """Authorize (the token, then the office server's proof), then run the handler of the
    request's method; WOPI errors become their status and headers."""
    handler = handlers.get(request.method or "")
    if handler is None:
        response = error_response(405, "method_not_allowed")
        response["Allow"] = ", ".join(sorted(handlers))
        return response
    try:
        if not discovery.enabled():
            raise discovery.WopiDisabled()
        token = _token(request)
        session = operations.open_session(token, file_id)
        proof.check(request, token)
        return handler(request, session)
    except SuiteError as exc:
        if exc.status >= 500:
            logger.warning("WOPI request failed",
                           extra={"code": exc.code, "status": exc.status, "details": exc.details})
        return _error(exc)


# --- /wopi/files/<id> -----------------------------------------------------------------------------


def check_file_info(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    info, version = operations.file_info(session)
    return _no_store(JsonResponse(info), item_version(version.pk if version is not None else None))


def file_override(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    """POST on the file: the operation is named by ``X-WOPI-Override``."""
    override = (request.headers.get("X-WOPI-Override") or "").strip().upper()
    operation = FILE_OVERRIDES.get(override)
    if operation is None:
        raise NotImplementedOperation(_("This WOPI operation is not supported."),
                                      details={"override": override[:64]})
    return operation(request, session)


def _lock_response(session: WopiSession) -> HttpResponseBase:
    return _no_store(HttpResponse(status=200), item_version(session.item.current_version_id))


def lock(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    """Lock, or UnlockAndRelock when ``X-WOPI-OldLock`` is present."""
    session.require_write()
    old_lock = request.headers.get("X-WOPI-OldLock")
    new_lock = request.headers.get("X-WOPI-Lock", "")
    if old_lock is not None:
        locks.unlock_and_relock(item_id=session.item.pk, old_lock_id=old_lock, lock_id=new_lock,
                                user=session.user)
    else:
        locks.lock(item_id=session.item.pk, lock_id=new_lock, user=session.user)
    return _lock_response(session)


def get_lock(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    """GetLock: the current lock id ("" when unlocked); any valid token may ask."""
    response = _no_store(HttpResponse(status=200))
    response["X-WOPI-Lock"] = locks.current_lock(session.item.pk)
    return response


def refresh_lock(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    session.require_write()
    locks.refresh(item_id=session.item.pk, lock_id=request.headers.get("X-WOPI-Lock", ""))
    return _lock_response(session)


def unlock(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    session.require_write()
    locks.unlock(item_id=session.item.pk, lock_id=request.headers.get("X-WOPI-Lock", ""))
    return _lock_response(session)


def put_relative_file(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    overwrite = (request.headers.get("X-WOPI-OverwriteRelativeTarget") or "").strip().lower() == "true"
    size = _integer_header(request, "X-WOPI-Size")
    created, token, _expires_ms = operations.put_relative(
        session,
        body=request,
        size=size if size is not None else _content_length(request),
        suggested=operations.from_utf7(request.headers.get("X-WOPI-SuggestedTarget")),
        relative=operations.from_utf7(request.headers.get("X-WOPI-RelativeTarget")),
        overwrite=overwrite,
    )
    body = {
        "Name": created.title,
        "Url": f"{operations.wopi_src(created.pk)}?access_token={quote(token, safe='')}",
    }
    return _no_store(JsonResponse(body))


def rename_file(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    name = operations.rename(
        session,
        requested=operations.from_utf7(request.headers.get("X-WOPI-RequestedName")),
        lock_id=request.headers.get("X-WOPI-Lock"),
    )
    return _no_store(JsonResponse({"Name": name}))


FILE_OVERRIDES: dict[str, Handler] = {
    "LOCK": lock,
    "GET_LOCK": get_lock,
    "REFRESH_LOCK": refresh_lock,
    "UNLOCK": unlock,
    "PUT_RELATIVE": put_relative_file,
    "RENAME_FILE": rename_file,
}


# --- /wopi/files/<id>/contents ---------------------------------------------------------------------


def get_file(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    """GetFile: the bytes, streamed from S3 (never whole in memory)."""
    reader, version = operations.open_contents(
        session, max_expected_size=_integer_header(request, "X-WOPI-MaxExpectedSize")
    )
    # The reader itself (its chunks; closed with the response, even if never started), in the
    # form the handler streams: under ASGI a plain iterator would be read whole first.
    response = StreamingHttpResponse(streaming_body(request, reader), content_type="application/octet-stream")
    response["Content-Length"] = str(reader.content_length)
    return _no_store(response, item_version(version.pk))


def put_file(request: HttpRequest, session: WopiSession) -> HttpResponseBase:
    """PutFile (``X-WOPI-Override: PUT``): the body becomes the file's new version."""
    override = (request.headers.get("X-WOPI-Override") or "PUT").strip().upper()
    if override != "PUT":
        raise NotImplementedOperation(_("This WOPI operation is not supported."),
                                      details={"override": override[:64]})
    version = operations.put_file(
        session,
        body=request,
        size=_content_length(request),
        content_type=None,  # what the bytes are is found in them, as for every upload
        lock_id=request.headers.get("X-WOPI-Lock"),
        timestamp=request.headers.get("X-COOL-WOPI-Timestamp") or request.headers.get("X-LOOL-WOPI-Timestamp"),
    )
    body = {"LastModifiedTime": operations.wopi_time(operations.changed_at(version, session.item))}
    return _no_store(JsonResponse(body), item_version(version.pk))


# --- routes -------------------------------------------------------------------------------------------


@csrf_exempt
def files(request: HttpRequest, file_id: str) -> HttpResponseBase:
    return _serve(request, file_id, {"GET": check_file_info, "POST": file_override})


@csrf_exempt
def contents(request: HttpRequest, file_id: str) -> HttpResponseBase:
    return _serve(request, file_id, {"GET": get_file, "POST": put_file})


def url_patterns() -> list[Any]:
    """Mounted at the site root by ``DriveAppConfig.url_patterns`` (WOPISrc has no slash at
    the end, so neither do these)."""
    return [
        path("wopi/files/<str:file_id>", files, name="wopi_files"),
        path("wopi/files/<str:file_id>/contents", contents, name="wopi_contents"),
    ]
