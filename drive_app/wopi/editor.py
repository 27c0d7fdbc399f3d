"""Opening a drive file in the office editor: which editor URL, which token, which mode.

The frontend calls ``GET /api/v1/drive/items/<id>/wopi/`` and then POSTs ``access_token`` and
``access_token_ttl`` as form fields to ``url`` (the WOPI host page pattern: the token never
appears in the editor's URL or the browser history).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from drive_app.models import ItemType
from drive_app.permissions import access_item, not_ready
from drive_app.services.items import item_visit
from drive_app.wopi import discovery, tokens
from drive_app.wopi.operations import extension, wopi_src
from drive_app.wopi.tokens import Mode
from suite.access.roles import Perm, role_allows
from suite.errors import SuiteError, ValidationFailed


@dataclass(frozen=True)
class EditorSession:
    url: str
    access_token: str
    access_token_ttl: int  # ms since the epoch
    action: str  # "edit" or "view"


def editor_open(*, actor: Any, item_id: Any) -> EditorSession:
    """The editor URL and a token for ``actor`` on file ``item_id``: ``edit`` when their role
    allows it and the office server edits this type, else ``view``. Needs VIEW on the file
    (the same 404 as everywhere for missing and invisible), a file whose content passed
    every check, and an office server that opens its type."""
    if not discovery.enabled():
        raise discovery.WopiDisabled()
    item = access_item(actor, item_id, need=Perm.VIEW)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Only files open in the office editor."), code="not_a_file")
    if item.current_version_id is None:
        raise not_ready(item)
    can_edit = role_allows(item.effective_role, Perm.EDIT)  # type: ignore[attr-defined]
    preferred = ("edit", "view") if can_edit else ("view", "edit")
    found = discovery.load().find(extension=extension(item.title).lstrip("."), mimetype=item.mimetype,
                                  actions=preferred)
    if found is None:
        raise SuiteError(_("The office server does not open this type of file."), code="no_office_editor",
                         status=422, details={"extension": extension(item.title), "mimetype": item.mimetype})
    action, urlsrc = found
    # A viewer-only action gets a view token even for an editor: least privilege.
    mode = Mode.EDIT if can_edit and action == "edit" else Mode.VIEW
    token, expires_ms = tokens.issue(user=actor, item_id=item.pk, mode=mode)
    url = discovery.editor_url(urlsrc, wopi_src=wopi_src(item.pk), language=get_language() or "en")
    item_visit(actor=actor, item=item)
    return EditorSession(url=url, access_token=token, access_token_ttl=expires_ms, action=str(mode))


__all__ = ["EditorSession", "editor_open"]
