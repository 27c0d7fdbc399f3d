"""Short-lived signed websocket tickets.

Browsers cannot set headers on a websocket, and ``y-websocket``'s ``WebsocketProvider`` passes
extra data only as query parameters, so clients that cannot rely on the session cookie fetch a
ticket from ``POST /api/v1/realtime/tickets`` and connect with ``?ticket=...``.

A ticket is signed with ``SECRET_KEY`` (HMAC, django.core.signing) under its own salt, names
the user, may be restricted to one websocket path prefix, and expires after
``REALTIME_TICKET_TTL`` seconds. It stays valid until then (not single-use), because
``WebsocketProvider`` reconnects with the same URL after a network blip; the short lifetime
bounds the replay window, and the user's current role is checked again at every connection.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils import timezone

SALT = "communs.realtime.ticket"


class TicketError(enum.StrEnum):
    EXPIRED = "ticket_expired"
    INVALID = "ticket_invalid"
    WRONG_PATH = "ticket_wrong_path"


@dataclass(frozen=True)
class Ticket:
    user_id: str
    path: str | None


def issue_ticket(user_id: object, *, path: str | None = None) -> tuple[str, dt.datetime]:
    payload = {"u": str(user_id)}
    if path:
        payload["p"] = path
    ticket = signing.dumps(payload, salt=SALT, compress=False)
    expires_at = timezone.now() + dt.timedelta(seconds=settings.REALTIME_TICKET_TTL)
    return ticket, expires_at


def read_ticket(ticket: str, *, path: str) -> Ticket | TicketError:
    try:
        payload = signing.loads(ticket, salt=SALT, max_age=settings.REALTIME_TICKET_TTL)
    except signing.SignatureExpired:
        return TicketError.EXPIRED
    except signing.BadSignature:
        return TicketError.INVALID
    if not isinstance(payload, dict) or "u" not in payload:
        return TicketError.INVALID
    scoped = payload.get("p")
    if scoped and not path.startswith(scoped):
        return TicketError.WRONG_PATH
    return Ticket(user_id=payload["u"], path=scoped)
