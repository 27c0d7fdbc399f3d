"""``POST /api/v1/realtime/tickets``: a short-lived ticket to open a websocket."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from suite.errors import NotAuthenticated, ValidationFailed
from suite.identity.credentials import credential_of_request
from suite.realtime.tickets import SEGMENT_CHARACTERS, issue_ticket, normalize_ticket_path
from suite.schemas import END, InputSchema, documented

router = Router(tags=["realtime"])

#: ``normalize_ticket_path``'s rule: /ws/ then plain segments (no empty, "." or ".."
#: segment), trailing slashes ignored.
_SEGMENT = rf"(?!\.\.?(?:/|{END})){SEGMENT_CHARACTERS}+"
TICKET_PATH_PATTERN = rf"^/ws/(?:{_SEGMENT}(?:/{_SEGMENT})*)?/*{END}"


class TicketIn(InputSchema):
    """Optional restrictions of a ticket. No body, or ``{}``, gives a ticket valid on every
    websocket endpoint for its lifetime. Unknown fields are refused (as in every input): a
    misspelt restriction must not silently give a ticket wider than the client asked for."""

    path: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        json_schema_extra=documented(pattern=TICKET_PATH_PATTERN),
        description="Restrict the ticket to this websocket path and the paths below it, "
        "e.g. `/ws/docs/<document id>` (a trailing slash makes no difference).",
    )


class TicketOut(Schema):
    ticket: str = Field(description="Pass it as the `ticket` query parameter of the websocket URL.")
    expires_at: dt.datetime = Field(description="The ticket is refused from this instant on.")


@router.post(
    "/tickets",
    response={201: TicketOut},
    summary="Get a websocket ticket",
    description="For clients that cannot send the session cookie on a websocket (API "
    "clients, y-websocket providers with `params: {ticket}`). The ticket is reusable until "
    "it expires and keeps the scopes of the API token used to obtain it; it stops working "
    "(and the sockets opened with it close) when that token is revoked or that session ends.",
)
def ticket_create(request: HttpRequest, payload: TicketIn | None = None):
    path = payload.path if payload is not None else None
    if path is not None:
        try:
            path = normalize_ticket_path(path)
        except ValueError:
            raise ValidationFailed(
                _("A ticket path must be a plain websocket path starting with /ws/."),
                details={
                    "errors": [
                        {
                            "location": ["body", "payload", "path"],
                            "field": "path",
                            "message": _("Invalid websocket path."),
                            "type": "value_error",
                        }
                    ]
                },
            ) from None
    credential = credential_of_request(request)
    if credential is None:  # every authentication of the API names one
        raise NotAuthenticated()
    ticket, expires_at = issue_ticket(
        request.user.pk, credential=credential.ticket_ref(), path=path,
        scopes=getattr(request, "auth_scopes", None),
    )
    return Status(201, {"ticket": ticket, "expires_at": expires_at})
