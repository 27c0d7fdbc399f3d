"""Sharing a resource of any app: listing its grants (with inherited ones), granting,
changing and revoking roles.

Generic over every ``AccessControlled`` model and its access model (``resource.accesses``),
so documents, drive items and whatever comes next share one implementation of "who has
access" and of its endpoints (``suite.access.api.sharing_router``).

The caller fetches the resource first, with the permission its operation needs and with its
own visibility rules (trash, ...): listing and leaving need ``Perm.VIEW``, granting and
changing ``Perm.SHARE``. The sharing rules themselves (nobody grants above their own role,
an administrator cannot touch an owner, the last owner stays) live in
``suite.access.grants``, which re-checks them inside its transaction, audits and publishes
the ``access.*`` events; this module finds the principal and the access, then calls it.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

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
from django.utils.translation import gettext as _

from suite.access.grants import access_grant, access_revoke, access_update, parse_role
from suite.access.models import AccessControlled, ResourceAccess, ancestor_paths
from suite.access.resolve import ROLE_ANNOTATION, team_ids_of
from suite.access.roles import Perm, Role, role_allows
from suite.errors import Conflict, NotFound, ValidationFailed
from suite.identity.models import Team, User

# --- Reads ------------------------------------------------------------------------------


def _flag(condition: Q | bool) -> Any:
    if isinstance(condition, bool):
        return Value(condition, output_field=BooleanField())
    return ExpressionWrapper(condition, output_field=BooleanField())


def _is_live(resource: AccessControlled) -> bool:
    """Whether ``resource`` is outside any trash: grants of a trashed resource (reachable
    only when its app fetched it with ``include_deleted``) are shown, never offered for
    change. Resources without a trash are always live."""
    return getattr(resource, "ancestors_deleted_at", None) is None


def resource_accesses(resource: AccessControlled, actor: Any) -> QuerySet[Any]:
    """The grants on ``resource`` and on its ancestors (which apply to it by inheritance),
    closest first, each annotated with ``inherited_from`` (the ancestor's id, or ``None``)
    and what ``actor`` may do with it (``can_update``, ``can_delete``).

    ``resource`` must carry ``effective_role`` (from the app's ``access_<thing>`` helper).
    Inherited grants are never editable here: they are managed on the ancestor that holds
    them.

    Who sees what: managers (administrators and owners) and actors who hold a grant on the
    resource or an ancestor (themselves or through a team) see every grant; an actor who
    reaches the resource only through its link setting sees only the owners and
    administrators (whom to ask for more), not the list of everyone it is shared with.
    """
    access_model = type(resource).access_model()
    paths = ancestor_paths(resource.path)
    actor_role = getattr(resource, ROLE_ANNOTATION, None)
    authenticated = bool(getattr(actor, "is_authenticated", False))
    grants = access_model.objects.filter(resource__path__in=paths)
    # One query: the last owner (counting inherited owners, as the sharing rules do) can be
    # neither downgraded nor removed, so it is not offered; and whether the actor holds a
    # grant here (else it sees only the managers).
    mine = Q(pk__isnull=True)  # nobody: an anonymous actor holds no grant
    if authenticated:
        mine = Q(user_id=actor.pk) | Q(team_id__in=team_ids_of(actor))
    tally = grants.aggregate(
        owners=Count("pk", filter=Q(role=Role.OWNER)), mine=Count("pk", filter=mine)
    )
    if not tally["mine"] and not role_allows(actor_role, Perm.SHARE):
        grants = grants.filter(role__gte=Role.ADMINISTRATOR)
    not_last_owner = Q() if tally["owners"] > 1 else ~Q(role=Role.OWNER)
    direct = Q(resource_id=resource.pk)

    manageable: Q | bool = False
    if _is_live(resource) and role_allows(actor_role, Perm.SHARE):
        owner_guard = Q() if actor_role == Role.OWNER else Q(role__lt=Role.OWNER)
        manageable = direct & not_last_owner & owner_guard
    leavable: Q | bool = False
    if authenticated:
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


def resource_access(resource: AccessControlled, actor: Any, access_id: Any) -> Any:
    """One row of :func:`resource_accesses` (after a write, to answer with its abilities)."""
    return resource_accesses(resource, actor).get(pk=access_id)


def find_access(resource: AccessControlled, access_id: Any) -> ResourceAccess:
    """The access ``access_id`` held on ``resource`` itself. An access held on an ancestor
    (it shows in the list as inherited) is refused with ``access_inherited`` and the
    ancestor's id under the model's name (``{"document": id}``, ``{"item": id}``), where it
    can be managed. Any other id, malformed ones included, is a 404."""
    try:
        pk = int(str(access_id))
    except ValueError:
        raise NotFound() from None
    access_model = type(resource).access_model()
    access = (
        access_model.objects.select_related("resource")
        .filter(pk=pk, resource__path__in=ancestor_paths(resource.path))
        .first()
    )
    if access is None:
        raise NotFound()
    if access.resource_id != resource.pk:
        options = type(resource)._meta
        raise Conflict(
            _("This access is inherited from higher up in the tree; manage it where it is granted."),
            code="access_inherited",
            details={str(options.model_name): str(access.resource_id)},
        )
    return cast(ResourceAccess, access)


def find_principal(model: type[User] | type[Team], value: Any, field: str) -> Any:
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


# --- Writes -----------------------------------------------------------------------------


def grant_create(
    *,
    actor: Any,
    resource: AccessControlled,
    role: str,
    user_id: str | None = None,
    team_id: str | None = None,
    request: Any = None,
) -> ResourceAccess:
    """Grant ``role`` on ``resource`` (fetched with ``Perm.SHARE``) to exactly one user or
    team (any existing team: teams are principals everywhere). Unknown role or not exactly
    one principal → 422; unknown principal → 404 naming the field; duplicate → 409
    ``access_exists``."""
    parsed_role = parse_role(role)
    if (user_id is None) == (team_id is None):
        raise ValidationFailed(
            _("Give exactly one of user or team."), details={"fields": ["user", "team"]}
        )
    user = find_principal(User, user_id, "user") if user_id is not None else None
    team = find_principal(Team, team_id, "team") if team_id is not None else None
    return access_grant(
        actor=actor, resource=resource, role=parsed_role, user=user, team=team, request=request
    )


def grant_change(
    *, actor: Any, resource: AccessControlled, access_id: Any, role: str, request: Any = None
) -> ResourceAccess:
    """Set the role of the access ``access_id`` held on ``resource`` (fetched with
    ``Perm.SHARE``)."""
    parsed_role = parse_role(role)
    access = find_access(resource, access_id)
    return access_update(actor=actor, access=access, role=parsed_role, request=request)


def grant_delete(
    *, actor: Any, resource: AccessControlled, access_id: Any, request: Any = None
) -> None:
    """Remove the access ``access_id`` held on ``resource`` (fetched with ``Perm.VIEW``:
    any user may remove their own access, i.e. leave, except the last owner; removing
    someone else's needs a manager, which ``access_revoke`` checks)."""
    access = find_access(resource, access_id)
    access_revoke(actor=actor, access=access, request=request)
