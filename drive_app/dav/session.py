"""The authenticated DAV request: who is asking, and what this request already loaded.

WsgiDAV asks the provider, the lock storage and the property manager for the same resources
many times in one request (a PROPFIND of a folder asks every child for a dozen properties).
:class:`DavSession` keeps, for one request only, what was already read: resolved paths, the
user's top-level entries, the dead properties and direct locks of listed items, the quota
usage. Every write clears it (:meth:`DavSession.invalidate`), so a request never sees its own
stale reads.

WsgiDAV's lock manager and property manager are shared by all requests and only receive a
URL; they find the current session through :data:`CURRENT`, a context variable the
authentication middleware sets for the duration of the request (the WSGI call and the
iteration of its body run in one context: a2wsgi runs each request in a copied context).
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field
from typing import Any

#: The WSGI ``environ`` key holding the session of the request.
ENVIRON_KEY = "communs.dav.session"
#: Set (True) by COPY/MOVE handlers when the destination did not exist: WsgiDAV answers 204
#: after a provider-handled COPY/MOVE; RFC 4918 (9.8.5, 9.9.4) wants 201 for a new mapping.
CREATED_KEY = "communs.dav.created"

CURRENT: contextvars.ContextVar[DavSession | None] = contextvars.ContextVar("communs_dav_session", default=None)


@dataclass
class DavSession:
    """One authenticated DAV request: the user, its token's scopes, and per-request caches."""

    user: Any
    scopes: list[str] = field(default_factory=list)
    #: DAV path (no trailing slash, "/" for the root) → resource, or None (does not exist).
    resources: dict[str, Any] = field(default_factory=dict)
    #: DAV path → (item, canonical DAV path) of the folders met while resolving longer paths
    #: (a PUT resolves its target, then WsgiDAV asks for the parent folder).
    folders: dict[str, Any] = field(default_factory=dict)
    #: Lower-cased top-level name → item (with ``dav_name``), see ``namespace.root_entries``.
    roots: dict[str, Any] | None = None
    workspace: Any = None
    #: Canonical lock/property URL → item id, for the items this request has seen.
    refs: dict[str, uuid.UUID] = field(default_factory=dict)
    #: Item id → {property name → XML}, for items whose dead properties were prefetched.
    dead_properties: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    #: Canonical URL → its direct locks (raw rows' data), for prefetched URLs.
    locks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    usage: Any = None

    @property
    def principal(self) -> str:
        """The lock owner name WsgiDAV compares (stable: the user id, not the email)."""
        return str(self.user.pk)

    def invalidate(self) -> None:
        """Forget everything read so far (after any write)."""
        self.resources.clear()
        self.folders.clear()
        self.roots = None
        self.refs.clear()
        self.dead_properties.clear()
        self.locks.clear()
        self.usage = None


def current_session() -> DavSession | None:
    return CURRENT.get()


def session_of(environ: dict[str, Any]) -> DavSession:
    """The session of an authenticated request (the authentication middleware set it)."""
    return environ[ENVIRON_KEY]
