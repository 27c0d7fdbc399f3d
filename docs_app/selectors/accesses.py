"""Reads of document sharing that only documents have: invitations and access requests.

Each function returns one queryset whose page costs a constant number of queries (related
rows come through ``select_related``). Who has access (grants, with inherited ones) is the
platform's ``suite.access.sharing.resource_accesses``, shared with every app.
"""

from __future__ import annotations

from django.db.models import QuerySet

from docs_app.models import AccessRequest, AccessRequestStatus, Document, Invitation


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
