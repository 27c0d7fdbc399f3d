"""``POST /api/v1/realtime/tickets``: a short-lived ticket to open a websocket."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from suite.errors import ValidationFailed
from suite.realtime.tickets import issue_ticket

router = Router(tags=["realtime"])


class TicketIn(Schema):
    path: str | None = Field(
        None,
        max_length=512,
        description="Restrict the ticket to websocket paths starting with this prefix, "
        "e.g. `/ws/docs/<document id>`.",
    )


class TicketOut(Schema):
    ticket: str
    expires_at: dt.datetime


@router.post("/tickets", response={201: TicketOut}, summary="Get a websocket ticket")
def ticket_create(request: HttpRequest, payload: TicketIn | None = None):
    path = payload.path if payload is not None else None
    if path is not None and not path.startswith("/ws/"):
        raise ValidationFailed(_("A ticket path must start with /ws/."), details={"path": path})
    ticket, expires_at = issue_ticket(request.user.pk, path=path)
    return Status(201, {"ticket": ticket, "expires_at": expires_at})
