"""Granting, changing and revoking roles on documents.

The sharing rules (only administrators and owners manage; nobody grants above their own role;
an administrator cannot change or remove an owner; the last owner stays) live in
``suite.access.grants`` and are not repeated here: these services find the document, the
principal and the access, then call the shared layer, which audits and publishes the
``access.*`` events.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.utils.translation import gettext as _

from docs_app.models import Document, DocumentAccess
from docs_app.permissions import access_document
from suite.access.grants import access_grant, access_revoke, access_update, parse_role
from suite.access.models import ancestor_paths
from suite.access.roles import Perm
from suite.errors import Conflict, NotFound, ValidationFailed
from suite.identity.models import Team, User


def _principal(model: type[User] | type[Team], value: str, field: str) -> Any:
    """The user or team ``value`` names; an unknown or malformed id is a 404 naming the
    field, so the client knows which of its inputs was wrong."""
    try:
        pk = uuid.UUID(str(value))
    except ValueError:
        pk = None
    principal = model.objects.filter(pk=pk).first() if pk is not None else None
    if principal is None:
        message = _("No such user.") if field == "user" else _("No such team.")
        raise NotFound(message, details={"field": field, "id": str(value)})
    return principal


def find_document_access(document: Document, access_id: Any) -> DocumentAccess:
    """The access ``access_id`` held on ``document`` itself. An access held on an ancestor
    (it shows in the list as inherited) is refused with ``access_inherited`` and the
    ancestor's id, where it can be managed."""
    try:
        pk = int(str(access_id))
    except ValueError:
        raise NotFound() from None
    access = (
        DocumentAccess.objects.select_related("resource")
        .filter(pk=pk, resource__path__in=ancestor_paths(document.path))
        .first()
    )
    if access is None:
        raise NotFound()
    if access.resource_id != document.pk:
        raise Conflict(
            _("This access is inherited from a parent document; manage it there."),
            code="access_inherited",
            details={"document": str(access.resource_id)},
        )
    return access


def access_create(
    *,
    actor: Any,
    document_id: Any,
    role: str,
    user_id: str | None = None,
    team_id: str | None = None,
    request: Any = None,
) -> DocumentAccess:
    """Grant ``role`` on the document to exactly one user or team (any existing team: teams
    are principals everywhere). Duplicate → 409 ``access_exists``."""
    document = access_document(actor, document_id, need=Perm.SHARE)
    parsed_role = parse_role(role)
    if (user_id is None) == (team_id is None):
        raise ValidationFailed(
            _("Give exactly one of user or team."), details={"fields": ["user", "team"]}
        )
    user = _principal(User, user_id, "user") if user_id is not None else None
    team = _principal(Team, team_id, "team") if team_id is not None else None
    access = access_grant(
        actor=actor, resource=document, role=parsed_role, user=user, team=team, request=request
    )
    return cast(DocumentAccess, access)


def access_change(
    *, actor: Any, document_id: Any, access_id: Any, role: str, request: Any = None
) -> DocumentAccess:
    document = access_document(actor, document_id, need=Perm.SHARE)
    parsed_role = parse_role(role)
    access = find_document_access(document, access_id)
    updated = access_update(actor=actor, access=access, role=parsed_role, request=request)
    return cast(DocumentAccess, updated)


def access_delete(*, actor: Any, document_id: Any, access_id: Any, request: Any = None) -> None:
    """Remove an access; any user may remove their own (leave), except the last owner."""
    document = access_document(actor, document_id, need=Perm.VIEW)
    access = find_document_access(document, access_id)
    access_revoke(actor=actor, access=access, request=request)
