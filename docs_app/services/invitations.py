"""Invitations: a role on a document offered to an email address.

An invitation is stored with an expiry (``DOCS_INVITATION_DAYS``), emailed after commit, and
turned into a ``DocumentAccess`` when someone with that email signs in
(:func:`invitations_convert`, called by ``docs_app.signals`` on every login) or, already
signed in, first asks for a document they cannot open yet (:func:`invitations_convert_waiting`,
called by ``docs_app.permissions.access_document``).

Inviting someone the inviter could find in user search (``USER_SEARCH_SCOPE``: their
organization, or everyone) is refused with 409 ``user_exists`` and the user's id in
``details.user``: the client then grants an access to that user, which is immediate and goes
through the sharing rules like any other grant. Every other address, whether it has an
account or not, gets the same invitation and the same answer: an inviter cannot learn from
invitations who has an account outside their search scope. Each invitation counts against
the inviter's ``DOCS_INVITATION_RATE`` (it emails an address nobody vetted).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from docs_app.events import InvitationCreated
from docs_app.models import Document, DocumentAccess, Invitation
from docs_app.permissions import access_document
from suite.access.events import AccessChanged, AccessGranted
from suite.access.grants import parse_role
from suite.access.resolve import parse_pk
from suite.access.roles import Perm, Role
from suite.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from suite.events import publish
from suite.identity.audit import record_audit
from suite.identity.models import AuditAction
from suite.identity.selectors import users_searchable_by
from suite.notifications import send_email
from suite.rate_limits import limit_actor

logger = logging.getLogger(__name__)

INVITATION_SUBJECT = gettext_noop("You are invited to a document")
INVITATION_TEMPLATE = "docs_app/email/invitation"


def _clean_email(value: str) -> str:
    email = value.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(_("Enter a valid email address."), details={"email": value}) from None
    return email


def _clean_language(value: str | None) -> str | None:
    if value is None:
        return None
    languages = [code for code, _name in settings.LANGUAGES]
    if value not in languages:
        raise ValidationFailed(
            _("Unknown language."), details={"language": value, "allowed": languages}
        )
    return value


def _check_not_above(document: Document, role: Role) -> None:
    if role > (getattr(document, "effective_role", None) or 0):
        raise PermissionDenied(_("You cannot grant a role above your own."))


def document_link(document_id: Any) -> str:
    return f"{settings.SUITE_PUBLIC_URL}/docs/{document_id}"


def _find_invitation(document: Document, invitation_id: Any) -> Invitation:
    pk = parse_pk(Invitation, invitation_id)
    invitation = Invitation.objects.filter(pk=pk, document=document).first() if pk else None
    if invitation is None:
        raise NotFound()
    return invitation


def _account_known_to(actor: Any, address: str) -> Any:
    """The id of the account with ``address`` if ``actor`` may know it exists (themselves, or
    someone their user search finds), else None -- also when such an account exists."""
    if address.lower() == (actor.email or "").lower():
        return actor.pk
    return users_searchable_by(actor).filter(email__iexact=address).values_list("pk", flat=True).first()


def invitation_create(
    *, actor: Any, document_id: Any, email: str, role: str, language: str | None = None
) -> Invitation:
    document = access_document(actor, document_id, need=Perm.SHARE)
    parsed_role = parse_role(role)
    address = _clean_email(email)
    language = _clean_language(language)
    _check_not_above(document, parsed_role)
    # Counted before anything is looked up: each answer below says something about an address.
    limit_actor(group="docs.invitations", actor=actor, rate=settings.DOCS_INVITATION_RATE)
    existing_user = _account_known_to(actor, address)
    if existing_user is not None:
        raise Conflict(
            _("This email already has an account: give that user an access instead."),
            code="user_exists",
            details={"user": str(existing_user)},
        )
    now = timezone.now()
    with transaction.atomic():
        # An expired invitation to the same address is replaced, not a conflict.
        Invitation.objects.filter(document=document, email__iexact=address, expires_at__lte=now).delete()
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    document=document,
                    email=address,
                    role=parsed_role,
                    issuer=actor,
                    expires_at=now + dt.timedelta(days=settings.DOCS_INVITATION_DAYS),
                )
        except IntegrityError:
            raise Conflict(
                _("This email is already invited to this document."),
                code="invitation_exists",
                details={"email": address},
            ) from None
        publish(
            InvitationCreated(
                actor_id=actor.pk,
                document_id=document.pk,
                invitation_id=invitation.pk,
                role=cast(Any, parsed_role.slug),
            )
        )
        transaction.on_commit(
            partial(send_invitation_email, invitation_id=invitation.pk, language=language),
            robust=True,
        )
    return invitation


def send_invitation_email(*, invitation_id: Any, language: str | None = None) -> int:
    """Email the invitation (in ``language``, else the site's), if it still exists."""
    invitation = (
        Invitation.objects.select_related("document", "issuer").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return 0
    issuer = invitation.issuer
    return send_email(
        to=invitation.email,
        subject=INVITATION_SUBJECT,
        template=INVITATION_TEMPLATE,
        language=language,
        context={
            "inviter_name": issuer.display_name if issuer else "",
            "document_title": invitation.document.title,
            # Lazy label: rendered in the email's language.
            "role_label": Role(invitation.role).label,
            "document_url": document_link(invitation.document_id),
            "expires_at": invitation.expires_at,
        },
    )


def invitation_update(*, actor: Any, document_id: Any, invitation_id: Any, role: str) -> Invitation:
    document = access_document(actor, document_id, need=Perm.SHARE)
    parsed_role = parse_role(role)
    invitation = _find_invitation(document, invitation_id)
    _check_not_above(document, parsed_role)
    if invitation.role != parsed_role:
        invitation.role = parsed_role
        invitation.save(update_fields=["role"])
    return invitation


def invitation_delete(*, actor: Any, document_id: Any, invitation_id: Any) -> None:
    document = access_document(actor, document_id, need=Perm.SHARE)
    _find_invitation(document, invitation_id).delete()


def _announce_access(
    access: DocumentAccess, invitation: Invitation, *, previous: int | None
) -> None:
    fields: dict[str, Any] = {"role": Role(access.role).slug}
    if previous is not None:
        fields["previous_role"] = Role(previous).slug
    event_type = AccessGranted if previous is None else AccessChanged
    action = AuditAction.ACCESS_GRANTED if previous is None else AuditAction.ACCESS_CHANGED
    record_audit(
        action, actor=invitation.issuer, target=invitation.document,
        principal=f"user:{access.user_id}", invitation=str(invitation.pk), **fields,
    )
    publish(
        event_type(
            actor_id=invitation.issuer_id,
            resource_type="docs_app.document",
            resource_id=str(invitation.document_id),
            principal_type="user",
            principal_id=cast(Any, access.user_id),
            **fields,
        )
    )


def invitations_convert(*, user: Any) -> int:
    """Turn the live invitations for ``user``'s email (case-insensitive) into accesses, keeping
    the higher role when the user already has one on that document, and delete every
    invitation for that email (expired ones without granting anything). Idempotent: a second
    call finds nothing. Returns the number of accesses created or raised."""
    email = (getattr(user, "email", "") or "").strip()
    if not email:
        return 0
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        # Locked so two simultaneous logins of the same person cannot both convert.
        invitations = list(
            Invitation.objects.select_for_update(of=("self",))
            .select_related("document", "issuer")
            .filter(email__iexact=email)
            .order_by("pk")
        )
        for invitation in invitations:
            if invitation.expires_at <= now:
                continue
            access = DocumentAccess.objects.select_for_update().filter(
                resource_id=invitation.document_id, user=user
            ).first()
            if access is None:
                access = DocumentAccess.objects.create(
                    resource_id=invitation.document_id, user=user, role=invitation.role
                )
                _announce_access(access, invitation, previous=None)
                changed += 1
            elif access.role < invitation.role:
                previous = access.role
                access.role = invitation.role
                access.save(update_fields=["role", "updated_at"])
                _announce_access(access, invitation, previous=previous)
                changed += 1
        Invitation.objects.filter(pk__in=[i.pk for i in invitations]).delete()
    return changed


def invitations_convert_waiting(*, user: Any) -> int:
    """Convert ``user``'s live invitations if there are any (one indexed query when there are
    none). For an account that was invited while signed in: it needs no new sign-in to open
    what it was invited to. Returns the number of accesses created or raised."""
    email = (getattr(user, "email", "") or "").strip()
    if not email or not getattr(user, "is_authenticated", False):
        return 0
    waiting = (
        Invitation.objects.alias(email_lower=Lower("email"))  # docs_invitation_email_idx
        .filter(email_lower=email.lower(), expires_at__gt=timezone.now())
        .exists()
    )
    return invitations_convert(user=user) if waiting else 0


def invitations_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete expired invitations (run periodically). Returns how many were deleted."""
    deleted, _by_model = Invitation.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
