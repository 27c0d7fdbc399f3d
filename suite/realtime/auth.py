"""Websocket authentication (Channels middleware): ``?ticket=`` or the session cookie.

The session cookie is only trusted when the ``Origin`` header (which browsers always send
on websockets) names one of our hosts: a page on another site must not be able to open a
socket with the visitor's cookie (cross-site websocket hijacking). Tickets are not ambient
credentials, so they need no origin check.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from suite.realtime.tickets import Ticket, read_ticket


@database_sync_to_async
def _active_user(user_id: str) -> Any:
    from suite.identity.models import User

    return User.objects.filter(pk=user_id, is_active=True).first()


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:
        return True  # not a browser: it cannot be holding a victim's cookie
    host = urlparse(origin).hostname or ""
    public = urlparse(settings.SUITE_PUBLIC_URL).hostname or ""
    return host == public or validate_host(host, settings.ALLOWED_HOSTS)


class TicketOrSessionAuthMiddleware:
    """Sets ``scope["user"]`` and ``scope["auth_method"]`` (``ticket``, ``session`` or
    ``None``); on a bad ticket, ``scope["auth_error"]`` says why."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.session_auth = CookieMiddleware(SessionMiddleware(AuthMiddleware(self._after_session)))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        tickets = query.get("ticket")
        if tickets:
            result = read_ticket(tickets[0], path=scope.get("path", ""))
            user = None
            if isinstance(result, Ticket):
                user = await _active_user(result.user_id)
                if user is None:
                    scope["auth_error"] = "ticket_invalid"
            else:
                scope["auth_error"] = str(result)
            scope["user"] = user or AnonymousUser()
            scope["auth_method"] = "ticket" if user else None
            return await self.inner(scope, receive, send)
        return await self.session_auth(scope, receive, send)

    async def _after_session(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        user = scope.get("user")
        if user is not None and user.is_authenticated and origin_allowed(scope):
            scope["auth_method"] = "session"
        else:
            if user is not None and user.is_authenticated:
                scope["auth_error"] = "origin_not_allowed"
            scope["user"] = AnonymousUser()
            scope["auth_method"] = None
        return await self.inner(scope, receive, send)
