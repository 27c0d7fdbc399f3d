"""Who may do what on a document: the ``access_document`` helper and the ``abilities`` map
sent with every document (clients never re-implement these rules)."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import QuerySet

from docs_app.models import Document
from suite.access.resolve import access_object
from suite.access.roles import Perm, Role, role_allows
from suite.errors import NotFound, PermissionDenied

logger = logging.getLogger(__name__)


def documents(*, include_deleted: bool = False) -> QuerySet[Document]:
    queryset = Document.objects.all()
    return queryset if include_deleted else queryset.filter(ancestors_deleted_at__isnull=True)


def access_document(
    actor: Any, document_id: Any, *, need: Perm = Perm.VIEW, include_deleted: bool = False
) -> Document:
    """The document with its ``effective_role``, or the same 404 for missing and invisible
    (403 when visible but ``need`` is not met). Documents in the trash are missing unless
    ``include_deleted``.

    Refused, an actor who holds an invitation not converted yet (invited while signed in)
    gets it converted and is checked once more: the invitation link works at once."""
    queryset = documents(include_deleted=include_deleted)
    try:
        return access_object(queryset, actor, document_id, need=need)
    except (NotFound, PermissionDenied):
        if not _convert_waiting_invitations(actor):
            raise
    return access_object(queryset, actor, document_id, need=need)


def _convert_waiting_invitations(actor: Any) -> int:
    """Like the conversion at login, it never turns a refusal into an error: a failure is
    logged, rolled back (a savepoint) and the invitations wait."""
    from docs_app.services.invitations import invitations_convert_waiting

    try:
        return invitations_convert_waiting(user=actor)
    except Exception:
        logger.exception("could not convert invitations on access", extra={"user": str(actor.pk)})
        return 0


def document_abilities(document: Document, actor: Any) -> dict[str, bool]:
    """What ``actor`` may do on ``document`` (annotated with ``effective_role``)."""
    role = getattr(document, "effective_role", None)
    authenticated = bool(getattr(actor, "is_authenticated", False))
    in_trash = document.ancestors_deleted_at is not None
    live = not in_trash
    return {
        "retrieve": role_allows(role, Perm.VIEW),
        "update": live and role_allows(role, Perm.EDIT),
        "create_children": live and role_allows(role, Perm.EDIT),
        "comment": live and role_allows(role, Perm.COMMENT),
        "read_comments": role_allows(role, Perm.VIEW),
        "destroy": live and role_allows(role, Perm.DELETE),
        "hard_delete": role_allows(role, Perm.DESTROY),
        "restore": in_trash and document.deleted_at is not None and role_allows(role, Perm.DELETE),
        "move": live and role_allows(role, Perm.DELETE),
        "duplicate": live and authenticated and role_allows(role, Perm.VIEW),
        "accesses_view": role_allows(role, Perm.VIEW) and authenticated,
        "accesses_manage": live and role_allows(role, Perm.SHARE),
        "link_configuration": live and role_allows(role, Perm.SHARE),
        "invite": live and role_allows(role, Perm.SHARE),
        "access_requests_manage": live and role_allows(role, Perm.SHARE),
        "favorite": live and authenticated and role_allows(role, Perm.VIEW),
        "request_access": live and authenticated and (role is None or role < Role.OWNER),
    }
