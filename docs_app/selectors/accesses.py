"""Reads of document sharing: accesses (with inherited ones), invitations, access requests.

Each function returns one queryset whose page costs a constant number of queries: related
rows come through ``select_related`` and per-row abilities are SQL expressions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    UUIDField,
    Value,
    When,
)

from docs_app.models import AccessRequest, AccessRequestStatus, Document, DocumentAccess, Invitation
from suite.access.models import ancestor_paths
from suite.access.resolve import team_ids_of
from suite.access.roles import Perm, Role, role_allows


def _flag(condition: Q | bool) -> Any:
    if isinstance(condition, bool):
        return Value(condition, output_field=BooleanField())
    return ExpressionWrapper(condition, output_field=BooleanField())


def document_accesses(document: Document, actor: Any) -> QuerySet[DocumentAccess]:
    """The grants on ``document`` and on its ancestors (which apply to it by inheritance),
    closest first, each annotated with ``inherited_from`` (the ancestor's id, or ``None``)
    and what ``actor`` may do with it (``can_update``, ``can_delete``).

    ``document`` must carry ``effective_role`` (from ``access_document``). Inherited grants
    are never editable here: they are managed on the ancestor that holds them.

    Who sees what: managers (administrators and owners) and actors who hold a grant on the
    document or an ancestor (themselves or through a team) see every grant; an actor who
    reaches the document only through its link setting sees only the owners and
    administrators (whom to ask for more), not the list of everyone it is shared with.
    """
    paths = ancestor_paths(document.path)
    actor_role = getattr(document, "effective_role", None)
    live = document.ancestors_deleted_at is None
    grants = DocumentAccess.objects.filter(resource__path__in=paths)
    # One query: the last owner (counting inherited owners, as the sharing rules do) can be
    # neither downgraded nor removed, so it is not offered; and whether the actor holds a
    # grant here (else it sees only the managers).
    mine = Q(pk__isnull=True)  # nobody: an anonymous actor holds no grant
    if getattr(actor, "is_authenticated", False):
        mine = Q(user_id=actor.pk) | Q(team_id__in=team_ids_of(actor))
    tally = grants.aggregate(owners=Count("pk", filter=Q(role=Role.OWNER)), mine=Count("pk", filter=mine))
    owners = tally["owners"]
    if not tally["mine"] and not role_allows(actor_role, Perm.SHARE):
        grants = grants.filter(role__gte=Role.ADMINISTRATOR)
    not_last_owner = Q() if owners > 1 else ~Q(role=Role.OWNER)
    direct = Q(resource_id=document.pk)

    manageable: Q | bool = False
    if live and role_allows(actor_role, Perm.SHARE):
        owner_guard = Q() if actor_role == Role.OWNER else Q(role__lt=Role.OWNER)
        manageable = direct & not_last_owner & owner_guard
    leavable: Q | bool = False
    if getattr(actor, "is_authenticated", False):
        leavable = direct & Q(user_id=actor.pk) & not_last_owner
    if isinstance(manageable, Q) and isinstance(leavable, Q):
        deletable: Q | bool = manageable | leavable
    else:
        deletable = manageable if isinstance(manageable, Q) else leavable

    return (
        grants.select_related("user", "team")
        .annotate(
            inherited_from=Case(
                When(direct, then=Value(None, output_field=UUIDField())),
                default=F("resource_id"),
                output_field=UUIDField(),
            ),
            can_update=_flag(manageable),
            can_delete=_flag(deletable),
        )
        .order_by("-resource__depth", "-role", "created_at", "pk")
    )


def document_access(document: Document, actor: Any, access_id: Any) -> DocumentAccess:
    """One row of :func:`document_accesses` (after a write, to answer with its abilities)."""
    return document_accesses(document, actor).get(pk=access_id)


def document_invitations(document: Document) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(document=document)
        .select_related("issuer")
        .order_by("-created_at", "pk")
    )


def document_access_requests(
    document: Document, status: str | None = AccessRequestStatus.PENDING
) -> QuerySet[AccessRequest]:
    queryset = AccessRequest.objects.filter(document=document).select_related("user")
    if status is not None:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "pk")
