"""Size limits of requests, answered in the uniform error shape.

- **URL** (path and query string): at most ``HTTP_MAX_URL_BYTES``, else 414 ``uri_too_long``.
  Checked by :class:`RequestLimits` for any ASGI server, and under ``suite serve`` by the
  server's own HTTP protocol (:mod:`suite.http_protocol`) before uvicorn's parser, which
  cannot parse a URL of 65,536 bytes or more and answers that in plain text.
- **Body** of an API operation: at most ``API_MAX_BODY_BYTES``, unless the operation declares
  a larger limit with :func:`body_limit` (document content: ``DOCS_CONTENT_MAX_BODY_BYTES``),
  else 413 ``payload_too_large`` with ``details.max_bytes``. Django's own
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is the largest of those limits: the input guard answers 413
  for anything above it (Django raises ``RequestDataTooBig``, which was a 500), and
  :class:`RequestLimits` refuses such a body as it arrives, before Django's ASGI handler
  would have spooled all of it to disk. Paths under ``PROTOCOL_PREFIXES`` (WebDAV, WOPI file
  bodies) have limits of their own.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from suite.errors import PROTOCOL_PREFIXES, ErrorCode, body_too_large, error_body

DEFAULT_BODY_LIMIT_SETTING = "API_MAX_BODY_BYTES"
_BODY_LIMIT_ATTRIBUTE = "body_limit_setting"


def body_limit(setting: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let an API handler take bodies up to ``settings.<setting>`` bytes instead of
    ``API_MAX_BODY_BYTES``. Put it under the route decorator. The setting must not exceed
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``suite/settings.py`` takes the largest limit)."""

    def mark(handler: Callable[..., Any]) -> Callable[..., Any]:
        setattr(handler, _BODY_LIMIT_ATTRIBUTE, setting)
        return handler

    return mark


def body_limit_of(view_func: Callable[..., Any]) -> int:
    """The largest body, in bytes, the API handler ``view_func`` accepts."""
    return int(getattr(settings, getattr(view_func, _BODY_LIMIT_ATTRIBUTE, DEFAULT_BODY_LIMIT_SETTING)))


def _declared_length(headers: Any) -> int | None:
    try:
        return int(headers.get("CONTENT_LENGTH") or headers.get("content-length") or "")
    except ValueError:
        return None


def enforce_body_limit(run: Callable[..., Any]) -> Callable[..., Any]:
    """ninja ``view`` decorator of every operation (added by ``suite.api``): the body is
    measured against the operation's limit before ninja parses it."""
    view_func = inspect.unwrap(run).__self__.view_func  # type: ignore[attr-defined]

    @functools.wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        limit = body_limit_of(view_func)
        size = _declared_length(request.META)
        if size is None:  # chunked: the ASGI layer bounded it to DATA_UPLOAD_MAX_MEMORY_SIZE
            size = len(request.body)
        if size > limit:
            return body_too_large(limit)
        return run(request, *args, **kwargs)

    return checked


# --- ASGI ----------------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


def url_too_long_body() -> bytes:
    limit = settings.HTTP_MAX_URL_BYTES
    return json.dumps(
        error_body(
            ErrorCode.URI_TOO_LONG,
            _("The URL is longer than %(limit)s bytes.") % {"limit": limit},
            {"max_bytes": limit},
        )
    ).encode()


async def _send_json(send: Callable[..., Any], status: int, body: bytes) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"private, no-store"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware in front of Django: 414 for a URL over ``HTTP_MAX_URL_BYTES``, 413 for
    a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (declared, or counted as it arrives), outside
    ``PROTOCOL_PREFIXES``."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PROTOCOL_PREFIXES):
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if len(raw_path) + (len(query) + 1 if query else 0) > settings.HTTP_MAX_URL_BYTES:
            await _send_json(send, 414, url_too_long_body())
            return
        cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        declared = _declared_length(headers)
        if declared is not None and declared > cap:
            await _send_json(send, 413, body_too_large(cap).content)
            return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _BodyTooLarge
            return message

        async def watching_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if started:
                raise
            await _send_json(send, 413, body_too_large(cap).content)
