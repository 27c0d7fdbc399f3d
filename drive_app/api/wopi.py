"""``GET /api/v1/drive/items/<id>/wopi/``: open a file in the office editor (WOPI).

The office server then talks to this host's ``/wopi/files/<id>`` (``drive_app.wopi.views``)
with the token given here.
"""

# No ``from __future__ import annotations``: ninja resolves the handlers' annotations.

from django.http import HttpRequest
from ninja import Field, Router, Schema

from drive_app.wopi.editor import editor_open
from suite.identity.auth import actor
from suite.openapi import error_statuses

router = Router()


class WopiEditorOut(Schema):
    url: str = Field(description="The editor URL. POST access_token and access_token_ttl to it as form "
                                 "fields (usually from a form targeting an iframe).")
    access_token: str = Field(description="The WOPI access token for this user and file.")
    access_token_ttl: int = Field(description="When the token expires, in milliseconds since the epoch.")
    action: str = Field(description="edit, or view when the user may only read the file (or the office "
                                    "server only views this type).")


@router.get("/{item_id}/wopi/", response=WopiEditorOut, summary="Open a file in the office editor (WOPI)")
@error_statuses(502, 503)
def wopi_editor(request: HttpRequest, item_id: str):
    session = editor_open(actor=actor(request), item_id=item_id)
    return {"url": session.url, "access_token": session.access_token,
            "access_token_ttl": session.access_token_ttl, "action": session.action}
