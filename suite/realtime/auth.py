"""Websocket authentication (Channels middleware): ``?ticket=`` or the session cookie.

The session cookie is only trusted when the ``Origin`` header (which browsers always send
on websockets) is ours: the public URL (``SUITE_PUBLIC_URL``), the host the client connected
to when that host is in ``ALLOWED_HOSTS``, or one of ``CSRF_TRUSTED_ORIGINS``. A page on
another site must not be able to open a socket with the visitor's cookie (cross-site
websocket hijacking). ``ALLOWED_HOSTS`` alone is not enough: it may be ``*`` behind a proxy.
Tickets are not ambient credentials, so they need no origin check.

Whatever the outcome, the inner application gets ``scope["user"]`` (a ``User`` or
``AnonymousUser``), ``scope["auth_method"]`` (``"ticket"``, ``"session"`` or ``None``),
``scope["auth_scopes"]`` (the token scopes a ticket carries, ``None`` for all of the user's
rights), ``scope["credential"]`` (what the socket was authenticated with, see
:mod:`suite.identity.credentials`; its sockets close when it ends) and, when a credential was presented but refused, ``scope["auth_error"]``: the reason
:class:`~suite.realtime.consumers.AuthenticatedConsumer` sends in its 4401 close frame.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from suite.identity import credentials
from suite.identity.credentials import Credential, Ended
from suite.realtime.tickets import Ticket, TicketError, read_ticket

logger = logging.getLogger(__name__)

USER_INACTIVE = "user_inactive"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"


@database_sync_to_async
def _user_by_id(user_id: str) -> Any:
    from suite.identity.models import User

    try:
        return User.objects.filter(pk=user_id).first()
    except (ValueError, ValidationError):  # not a valid primary key
        return None


@database_sync_to_async
def _ticket_credential(ref: str, user: Any) -> tuple[Credential | None, Ended | None]:
    credential = credentials.from_ticket_ref(ref, user)
    if credential is None:
        return None, None
    return credential, credentials.ended_credentials([credential]).get(credential)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _trusted_origin(origin: str, scheme: str, netloc: str) -> bool:
    """``CSRF_TRUSTED_ORIGINS``, matched the way Django's CSRF check matches them
    (exact origins, or ``https://*.example.org`` for any subdomain)."""
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "*" not in entry:
            if entry.lower() == origin:
                return True
            continue
        trusted = urlsplit(entry)
        if trusted.scheme == scheme and is_same_domain(netloc, trusted.netloc.lstrip("*")):
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a session cookie may be honoured for this websocket handshake."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True  # not a browser: it cannot be replaying a victim's cookie
    origin = origin.strip().lower()
    try:
        parsed = urlsplit(origin)
        hostname = parsed.hostname
    except ValueError:
        return False
    # "null" (sandboxed frames, file: pages) and other schemes are never ours.
    if parsed.scheme not in ("http", "https") or not hostname:
        return False
    public = urlsplit(settings.SUITE_PUBLIC_URL.lower())
    if (parsed.scheme, parsed.netloc) == (public.scheme, public.netloc):
        return True
    host = (_header(scope, b"host") or "").strip().lower()
    if host and parsed.netloc == host:
        domain, _port = split_domain_port(host)
        # An unknown Host naming itself as Origin is DNS rebinding, not our own page.
        if domain and validate_host(domain, settings.ALLOWED_HOSTS):
            return True
    return _trusted_origin(origin, parsed.scheme, parsed.netloc)


class TicketOrSessionAuthMiddleware:
    """Authenticates a websocket with ``?ticket=`` when present, else with the session
    cookie (through Channels' cookie, session and auth middlewares). Never refuses a
    connection itself: consumers decide, so they can close with a reason."""

    def __init__(self, inner: Any):
        self.inner = inner
        # Channels' own stack parses the cookie, loads the session and resolves its user,
        # each database step in database_sync_to_async (which closes stale connections).
        self.session_auth = CookieMiddleware(SessionMiddleware(AuthMiddleware(self._after_session)))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope, auth_method=None, auth_scopes=None, credential=None)
        # Only this middleware says who the client is (AuthMiddleware also expects to set
        # "user" itself).
        scope.pop("auth_error", None)
        scope.pop("user", None)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        tickets = query.get("ticket")
        if tickets is not None:
            # A ticket, even a bad one, decides alone: falling back to the cookie would let a
            # client believe its ticket works while it is really using an ambient credential.
            await self._authenticate_ticket(scope, tickets[0])
            return await self.inner(scope, receive, send)
        return await self.session_auth(scope, receive, send)

    async def _authenticate_ticket(self, scope: dict[str, Any], raw: str) -> None:
        scope["user"] = AnonymousUser()
        result = read_ticket(raw, path=scope.get("path", "")) if raw else TicketError.INVALID
        if not isinstance(result, Ticket):
            scope["auth_error"] = str(result)
            return
        user = await _user_by_id(result.user_id)
        if user is None:
            scope["auth_error"] = str(TicketError.INVALID)
            return
        if not user.is_active:
            scope["auth_error"] = USER_INACTIVE
            return
        # The token or session the ticket was minted with must still hold.
        credential, ended = await _ticket_credential(result.credential, user)
        if credential is None:
            scope["auth_error"] = str(TicketError.INVALID)
        elif ended is not None:
            scope["auth_error"] = str(ended)
        else:
            scope["user"] = user
            scope["auth_method"] = "ticket"
            scope["auth_scopes"] = result.scopes
            scope["credential"] = credential

    async def _after_session(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        # Unwrap Channels' lazy user: consumers get the same kind of object as with a ticket.
        user = getattr(scope.get("user"), "_wrapped", scope.get("user"))
        refusal = None
        if user is None or not user.is_authenticated:
            user = None
        elif not user.is_active:
            # Not every backend's get_user() checks it (mozilla-django-oidc's does not).
            refusal = USER_INACTIVE
        elif not origin_allowed(scope):
            refusal = ORIGIN_NOT_ALLOWED
            logger.warning(
                "websocket session cookie refused from a foreign origin",
                extra={"origin": _header(scope, b"origin"), "path": scope.get("path")},
            )
        if user is None or refusal:
            scope["user"] = AnonymousUser()
            scope.pop("session", None)  # a refused session must not be usable further in
            if refusal:
                scope["auth_error"] = refusal
        else:
            scope["user"] = user
            scope["auth_method"] = "session"
            scope["credential"] = credentials.session_credential(scope["session"].session_key, user)
        return await self.inner(scope, receive, send)
