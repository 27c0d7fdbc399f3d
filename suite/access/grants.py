"""Managing grants on any access-controlled resource, with the sharing rules of the suite.

Rules (the same for documents, drive items, chat channels...):

- only administrators and owners manage accesses (``Perm.SHARE``);
- nobody grants, or sets, a role above their own;
- an administrator cannot change or remove an owner;
- the last owner of a resource (counting owners inherited from ancestors) cannot leave,
  be downgraded or be removed;
- anyone may remove their own access (leave), except the last owner.

Each change is audited and publishes an access event after commit.
"""

from __future__ import annotations

from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from suite.access.epoch import access_changed
from suite.access.events import (
    AccessChanged,
    AccessEvent,
    AccessGranted,
    AccessRevoked,
    LinkChanged,
)
from suite.access.models import AccessControlled, ResourceAccess, ancestor_paths
from suite.access.resolve import access_object
from suite.access.roles import LINK_ROLES, LinkReach, Perm, Role
from suite.errors import Conflict, PermissionDenied, ValidationFailed
from suite.events import publish
from suite.identity.audit import record_audit
from suite.identity.models import AuditAction


def _resource_type(resource: AccessControlled) -> str:
    return f"{resource._meta.app_label}.{resource._meta.model_name}"


def _actor_role(actor: Any, resource: AccessControlled) -> int:
    """Re-read the actor's role inside the transaction (never trust a stale annotation)."""
    model = type(resource)
    locked = access_object(model._default_manager.all(), actor, resource.pk, need=Perm.VIEW)
    return locked.effective_role  # type: ignore[attr-defined]


def _require_manager(actor: Any, resource: AccessControlled) -> int:
    role = _actor_role(actor, resource)
    if role < Role.ADMINISTRATOR:
        raise PermissionDenied(_("Only administrators and owners can manage accesses."))
    return role


def _check_not_above(actor_role: int, role: int) -> None:
    if role > actor_role:
        raise PermissionDenied(_("You cannot grant a role above your own."))


def _other_owner_exists(access: ResourceAccess, resource: AccessControlled) -> bool:
    model = type(access)
    return (
        model.objects.filter(
            resource__path__in=ancestor_paths(resource.path), role=Role.OWNER
        )
        .exclude(pk=access.pk)
        .exists()
    )


def _announce(
    action: AuditAction,
    event_type: type[AccessEvent],
    *,
    actor: Any,
    resource: AccessControlled,
    kind: str,
    principal_id: Any,
    request: Any,
    **fields: Any,
) -> None:
    """Audit an access change and publish its platform event (after commit); a change that
    may take rights away also waits for the session writes in flight (suite.access.epoch)."""
    record_audit(
        action, actor=actor, target=resource, request=request,
        principal=f"{kind}:{principal_id}", **fields,
    )
    publish(
        event_type(
            actor_id=actor.pk,
            resource_type=_resource_type(resource),
            resource_id=str(resource.pk),
            principal_type=cast(Any, kind),
            principal_id=principal_id,
            **fields,
        )
    )
    if event_type is not AccessGranted:
        access_changed()


def parse_role(value: str, *, allowed: tuple[Role, ...] | None = None) -> Role:
    try:
        role = Role.from_slug(value)
    except ValueError:
        role = None
    choices = allowed or tuple(Role)
    if role is None or role not in choices:
        raise ValidationFailed(
            _("Unknown role."),
            details={"role": value, "allowed": [r.slug for r in choices]},
        )
    return role


def access_grant(
    *,
    actor: Any,
    resource: AccessControlled,
    role: Role,
    user: Any = None,
    team: Any = None,
    request: Any = None,
) -> ResourceAccess:
    if (user is None) == (team is None):
        raise ValidationFailed(_("Give exactly one of user or team."))
    access_model = type(resource).access_model()
    with transaction.atomic():
        actor_role = _require_manager(actor, resource)
        _check_not_above(actor_role, role)
        try:
            with transaction.atomic():
                access = access_model.objects.create(
                    resource=resource, user=user, team=team, role=role
                )
        except IntegrityError:
            raise Conflict(
                _("This user or team already has an access; update it instead."),
                code="access_exists",
            ) from None
        principal = user if user is not None else team
        _announce(
            AuditAction.ACCESS_GRANTED, AccessGranted, actor=actor, resource=resource,
            kind=access.principal_kind, principal_id=principal.pk, request=request,
            role=Role(role).slug,
        )
    return access


def access_update(
    *, actor: Any, access: ResourceAccess, role: Role, request: Any = None
) -> ResourceAccess:
    resource: AccessControlled = access.resource  # type: ignore[attr-defined]
    with transaction.atomic():
        access = type(access).objects.select_for_update().get(pk=access.pk)
        actor_role = _require_manager(actor, resource)
        if access.role == Role.OWNER and actor_role < Role.OWNER:
            raise PermissionDenied(_("Only an owner can change an owner's role."))
        _check_not_above(actor_role, role)
        previous = access.role
        if previous == role:
            return access
        if previous == Role.OWNER and not _other_owner_exists(access, resource):
            raise Conflict(_("The last owner cannot be downgraded."), code="last_owner")
        access.role = role
        access.save(update_fields=["role", "updated_at"])
        _announce(
            AuditAction.ACCESS_CHANGED, AccessChanged, actor=actor, resource=resource,
            kind=access.principal_kind, principal_id=access.user_id or access.team_id,
            request=request, role=Role(role).slug, previous_role=Role(previous).slug,
        )
    return access


def access_revoke(*, actor: Any, access: ResourceAccess, request: Any = None) -> None:
    resource: AccessControlled = access.resource  # type: ignore[attr-defined]
    with transaction.atomic():
        access = type(access).objects.select_for_update().get(pk=access.pk)
        leaving = access.user_id is not None and access.user_id == actor.pk
        if not leaving:
            actor_role = _require_manager(actor, resource)
            if access.role == Role.OWNER and actor_role < Role.OWNER:
                raise PermissionDenied(_("Only an owner can remove an owner."))
        if access.role == Role.OWNER and not _other_owner_exists(access, resource):
            raise Conflict(_("The last owner cannot leave or be removed."), code="last_owner")
        principal_id = access.user_id or access.team_id
        previous = access.role
        kind = access.principal_kind
        access.delete()
        _announce(
            AuditAction.ACCESS_REVOKED, AccessRevoked, actor=actor, resource=resource,
            kind=kind, principal_id=principal_id, request=request,
            previous_role=Role(previous).slug,
        )


def link_update(
    *,
    actor: Any,
    resource: AccessControlled,
    link_reach: str | None = None,
    link_role: str | None = None,
    request: Any = None,
) -> AccessControlled:
    with transaction.atomic():
        _require_manager(actor, resource)
        fields = []
        if link_reach is not None:
            if link_reach not in LinkReach.values:
                raise ValidationFailed(
                    _("Unknown link reach."),
                    details={"link_reach": link_reach, "allowed": list(LinkReach.values)},
                )
            resource.link_reach = link_reach
            fields.append("link_reach")
        if link_role is not None:
            resource.link_role = parse_role(link_role, allowed=LINK_ROLES)
            fields.append("link_role")
        if not fields:
            return resource
        resource.save(update_fields=fields)
        record_audit(
            AuditAction.LINK_CHANGED,
            actor=actor,
            target=resource,
            request=request,
            link_reach=resource.link_reach,
            link_role=Role(resource.link_role).slug,
        )
        publish(
            LinkChanged(
                actor_id=actor.pk,
                resource_type=_resource_type(resource),
                resource_id=str(resource.pk),
                link_reach=cast(Any, resource.link_reach),
                link_role=cast(Any, Role(resource.link_role).slug),
            )
        )
        access_changed()
    return resource
