"""Access requests: a signed-in user asks for a role on a document they cannot see (or see
with a lower role); its owners and administrators accept (choosing the role) or refuse.

Existence: asking is possible for any existing document (not in the trash), visible or not,
and the answer only carries the request's id and status, never anything about the document.
A nonexistent id is the usual 404, so this endpoint does tell whether a document id exists;
document ids are random UUIDs, which makes that unguessable.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from docs_app.events import AccessRequestDecided, AccessRequested
from docs_app.models import AccessRequest, AccessRequestStatus, Document, DocumentAccess
from docs_app.permissions import access_document, documents
from docs_app.services.invitations import document_link
from suite.access.grants import access_grant, access_update, parse_role
from suite.access.models import ancestor_paths
from suite.access.resolve import annotate_roles, parse_pk
from suite.access.roles import LINK_ROLES, Perm, Role
from suite.errors import Conflict, NotFound, PermissionDenied
from suite.events import publish
from suite.identity.models import User
from suite.notifications import send_email

REQUESTED_SUBJECT = gettext_noop("Someone asks for access to a document")
ACCEPTED_SUBJECT = gettext_noop("Your access request was accepted")
REFUSED_SUBJECT = gettext_noop("Your access request was refused")


def _existing_document(actor: Any, document_id: Any) -> Document:
    pk = parse_pk(Document, document_id)
    document = annotate_roles(documents(), actor).filter(pk=pk).first() if pk else None
    if document is None:
        raise NotFound()
    return document


def document_managers(document: Document) -> list[User]:
    """Active users who may decide on requests: administrators and owners of the document
    or an ancestor, directly or through a team."""
    grants = DocumentAccess.objects.filter(
        resource__path__in=ancestor_paths(document.path), role__gte=Role.ADMINISTRATOR
    )
    return list(
        User.objects.filter(is_active=True, is_bot=False)
        .filter(
            Q(pk__in=grants.filter(user__isnull=False).values("user_id"))
            | Q(team_memberships__team_id__in=grants.filter(team__isnull=False).values("team_id"))
        )
        .distinct()
        .order_by("email")
    )


def _notify_managers(access_request_id: Any) -> None:
    access_request = (
        AccessRequest.objects.select_related("document", "user").filter(pk=access_request_id).first()
    )
    if access_request is None:
        return
    for manager in document_managers(access_request.document):
        send_email(
            to=manager,
            subject=REQUESTED_SUBJECT,
            template="docs_app/email/access_requested",
            context={
                "requester_name": access_request.user.display_name,
                "requester_email": access_request.user.email,
                "document_title": access_request.document.title,
                "role_label": Role(access_request.role).label,
                "message": access_request.message,
                "document_url": document_link(access_request.document_id),
            },
        )


def _notify_requester(access_request_id: Any) -> None:
    access_request = (
        AccessRequest.objects.select_related("document", "user").filter(pk=access_request_id).first()
    )
    if access_request is None:
        return
    accepted = access_request.status == AccessRequestStatus.ACCEPTED
    send_email(
        to=access_request.user,
        subject=ACCEPTED_SUBJECT if accepted else REFUSED_SUBJECT,
        template="docs_app/email/access_request_decided",
        context={
            "accepted": accepted,
            # Only shown once accepted: then the requester may see the title.
            "document_title": access_request.document.title if accepted else "",
            "role_label": Role(access_request.role).label,
            "document_url": document_link(access_request.document_id),
        },
    )


def access_request_create(
    *, actor: Any, document_id: Any, role: str = "reader", message: str = ""
) -> AccessRequest:
    parsed_role = parse_role(role, allowed=LINK_ROLES)
    document = _existing_document(actor, document_id)
    current = getattr(document, "effective_role", None)
    if current is not None and current >= parsed_role:
        raise Conflict(_("You already have this role or a higher one."), code="role_already_held")
    with transaction.atomic():
        try:
            with transaction.atomic():
                access_request = AccessRequest.objects.create(
                    document=document, user=actor, role=parsed_role, message=message
                )
        except IntegrityError:
            raise Conflict(
                _("You already asked for access to this document."),
                code="access_request_exists",
            ) from None
        publish(
            AccessRequested(
                actor_id=actor.pk,
                document_id=document.pk,
                access_request_id=access_request.pk,
                user_id=actor.pk,
                role=cast(Any, parsed_role.slug),
            )
        )
        transaction.on_commit(partial(_notify_managers, access_request.pk), robust=True)
    return access_request


def _pending_request(document: Document, request_id: Any) -> AccessRequest:
    pk = parse_pk(AccessRequest, request_id)
    access_request = (
        AccessRequest.objects.select_for_update().filter(pk=pk, document=document).first()
        if pk
        else None
    )
    if access_request is None:
        raise NotFound()
    if access_request.status != AccessRequestStatus.PENDING:
        raise Conflict(
            _("This request was already decided."),
            code="access_request_decided",
            details={"status": access_request.status},
        )
    return access_request


def _decide(access_request: AccessRequest, actor: Any, status: str) -> None:
    access_request.status = status
    access_request.decided_at = timezone.now()
    access_request.decided_by = actor
    access_request.save(update_fields=["status", "decided_at", "decided_by", "role"])
    publish(
        AccessRequestDecided(
            actor_id=actor.pk,
            document_id=access_request.document_id,
            access_request_id=access_request.pk,
            user_id=access_request.user_id,
            status=cast(Any, status),
            role=cast(Any, Role(access_request.role).slug)
            if status == AccessRequestStatus.ACCEPTED
            else None,
        )
    )
    transaction.on_commit(partial(_notify_requester, access_request.pk), robust=True)


def access_request_accept(
    *, actor: Any, document_id: Any, request_id: Any, role: str | None = None, request: Any = None
) -> AccessRequest:
    """Give the requester ``role`` (default: the one asked for) through the sharing rules (so
    never above the decider's own role); an existing lower access of theirs on this document
    is raised, a higher one kept."""
    document = access_document(actor, document_id, need=Perm.SHARE)
    parsed_role = parse_role(role) if role is not None else None
    with transaction.atomic():
        access_request = _pending_request(document, request_id)
        granted = parsed_role or Role(access_request.role)
        if granted > (getattr(document, "effective_role", None) or 0):
            raise PermissionDenied(_("You cannot grant a role above your own."))
        existing = DocumentAccess.objects.filter(
            resource=document, user_id=access_request.user_id
        ).first()
        if existing is None:
            access_grant(
                actor=actor, resource=document, role=granted,
                user=access_request.user, request=request,
            )
        elif existing.role < granted:
            existing.resource = document
            access_update(actor=actor, access=existing, role=granted, request=request)
        access_request.role = granted
        _decide(access_request, actor, AccessRequestStatus.ACCEPTED)
    return access_request


def access_request_refuse(*, actor: Any, document_id: Any, request_id: Any) -> AccessRequest:
    document = access_document(actor, document_id, need=Perm.SHARE)
    with transaction.atomic():
        access_request = _pending_request(document, request_id)
        _decide(access_request, actor, AccessRequestStatus.REFUSED)
    return access_request
