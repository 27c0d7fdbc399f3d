"""Short-lived signed websocket tickets.

Browsers cannot set headers on a websocket, and ``y-websocket``'s ``WebsocketProvider`` passes
extra data only as query parameters, so clients that cannot rely on the session cookie fetch a
ticket from ``POST /api/v1/realtime/tickets`` and connect with ``?ticket=...``.

A ticket is signed with ``SECRET_KEY`` (HMAC, django.core.signing) under its own salt, names
the user, carries its own expiry (``REALTIME_TICKET_TTL`` seconds after issue, so changing the
setting never stretches tickets already handed out), may be restricted to one websocket path
(and what lies below it), and keeps the scopes of the API token it was obtained with, so a
scoped token cannot widen its rights by going through a websocket.

It stays valid until it expires (not single-use), because ``WebsocketProvider`` reconnects
with the same URL after a network blip; the short lifetime bounds the replay window, and the
user (active or not) and their current role are checked again at every connection. It names
the credential it was minted with (``suite.identity.credentials``), which must still hold
when the ticket is used: revoking a token, or ending a session, invalidates its tickets.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "communs.realtime.ticket"

# A ticket path is a plain absolute websocket path: no query, fragment, backslash, blank,
# control character or dot segment, so that "is this path within the ticket's?" can be
# answered segment by segment without any normalisation surprise.
SEGMENT_CHARACTERS = r"[A-Za-z0-9._~!$&'()*+,;=:@%-]"
_PATH_SEGMENT = re.compile(rf"{SEGMENT_CHARACTERS}+")  # fullmatch: no final line break


class TicketError(enum.StrEnum):
    """Why a ticket was refused; sent to the client as the websocket close reason."""

    EXPIRED = "ticket_expired"
    INVALID = "ticket_invalid"
    WRONG_PATH = "ticket_wrong_path"


@dataclass(frozen=True)
class Ticket:
    """A verified ticket: whose it is, where it may be used, and with which token scopes
    (``None``: all of the user's rights, as with a session or an unscoped token)."""

    user_id: str
    path: str | None
    scopes: list[str] | None
    expires_at: dt.datetime
    #: How the ticket names the credential it was minted with (``Credential.ticket_ref``).
    credential: str


def normalize_ticket_path(path: str) -> str:
    """The canonical form of a ticket path (no trailing slash), or ``ValueError``.

    ``/ws/docs/<id>`` and ``/ws/docs/<id>/`` name the same place: y-websocket connects
    without the slash, other clients with it.
    """
    if not path.startswith("/ws/"):
        raise ValueError("a ticket path must start with /ws/")
    segments = path[1:].rstrip("/").split("/")
    for segment in segments:
        if not _PATH_SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise ValueError("a ticket path must be a plain path (no empty or dot segment, "
                             "query, fragment, blank or control character)")
    return "/" + "/".join(segments)


def path_within(path: str, scope: str) -> bool:
    """Whether the websocket ``path`` is ``scope`` itself or below it (whole segments only:
    a ticket for ``/ws/docs/1`` is no ticket for ``/ws/docs/12``)."""
    path = "/" + path.strip("/")
    return path == scope or path.startswith(scope + "/")


def issue_ticket(
    user_id: object, *, credential: str, path: str | None = None, scopes: list[str] | None = None
) -> tuple[str, dt.datetime]:
    """Sign a ticket for ``user_id``, minted with ``credential`` (its ticket reference).
    ``path`` must already be normalised (:func:`normalize_ticket_path`). Returns the ticket
    and its expiry."""
    expires = int(time.time()) + settings.REALTIME_TICKET_TTL
    payload: dict[str, Any] = {"u": str(user_id), "x": expires, "c": credential}
    if path:
        payload["p"] = path
    if scopes:
        payload["s"] = list(scopes)
    ticket = signing.dumps(payload, salt=SALT, compress=False)
    return ticket, dt.datetime.fromtimestamp(expires, tz=dt.UTC)


def read_ticket(ticket: str, *, path: str) -> Ticket | TicketError:
    """Verify ``ticket`` for a connection to ``path``. Never raises on bad input."""
    try:
        payload = signing.loads(ticket, salt=SALT)
    except signing.BadSignature:
        return TicketError.INVALID
    except ValueError:  # malformed base64/JSON that still carried a valid-looking signature
        return TicketError.INVALID
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("u"), str)
        or not isinstance(payload.get("x"), int)
        or not isinstance(payload.get("c"), str)
    ):
        return TicketError.INVALID
    if time.time() >= payload["x"]:
        return TicketError.EXPIRED
    scoped = payload.get("p")
    if scoped is not None and (not isinstance(scoped, str) or not path_within(path, scoped)):
        return TicketError.WRONG_PATH
    scopes = payload.get("s")
    return Ticket(
        user_id=payload["u"],
        path=scoped,
        scopes=list(scopes) if isinstance(scopes, list) else None,
        expires_at=dt.datetime.fromtimestamp(payload["x"], tz=dt.UTC),
        credential=payload["c"],
    )
