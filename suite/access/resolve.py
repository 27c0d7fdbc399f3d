"""Resolving the effective role of an actor, in SQL.

The effective role of an actor on an object is the maximum of:

- the roles granted to the actor, or to a team the actor belongs to, on the object or on any
  of its ancestors (ancestors are the prefixes of the object's materialized path);
- the link role of the object or of any ancestor whose link reach admits the actor
  (``public``: anyone, even anonymous; ``authenticated``: any signed-in user).

Both parts are correlated subqueries, so annotating a page of objects, or filtering a whole
table down to "what this actor can see", is one SQL statement whatever the number of rows.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db.models import (
    BooleanField,
    Expression,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from suite.access.models import PATH_STEP, AccessControlled
from suite.access.roles import LinkReach, Perm, role_allows
from suite.errors import NotFound, PermissionDenied

M = TypeVar("M", bound=AccessControlled)

ROLE_ANNOTATION = "effective_role"


class IsAncestorPath(Func):
    """``ancestor = ANY(communs_path_ancestors(path))``: true when ``ancestor`` is ``path``
    or one of its ancestors. Written this way (rather than ``starts_with(path, ancestor)``)
    so PostgreSQL finds the ancestors through the unique index on ``path``: a handful of
    index probes per row instead of a scan (migration access/0001 defines the function)."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        ancestor, path = self.source_expressions
        ancestor_sql, ancestor_params = compiler.compile(ancestor)
        path_sql, path_params = compiler.compile(path)
        return (
            f"{ancestor_sql} = ANY(communs_path_ancestors({path_sql}, {PATH_STEP}))",
            [*ancestor_params, *path_params],
        )


def _is_authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def team_ids_of(actor: Any) -> QuerySet:
    from suite.identity.models import TeamMembership

    return TeamMembership.objects.filter(user_id=actor.pk).values("team_id")


def reaches_for(actor: Any) -> list[str]:
    if _is_authenticated(actor):
        return [LinkReach.PUBLIC, LinkReach.AUTHENTICATED]
    return [LinkReach.PUBLIC]


def grant_role_subquery(model: type[AccessControlled], actor: Any) -> Subquery | None:
    """Highest role granted to ``actor`` (directly or through a team) on ``OuterRef`` or one of
    its ancestors; ``None`` for anonymous actors."""
    if not _is_authenticated(actor):
        return None
    access_model = model.access_model()
    # Ancestors first (a few probes of the path index), then their grants (index on
    # resource_id), then the principal filter: the cost follows the depth of the object and
    # the grants on its ancestors, never the size of the tables.
    ancestor_ids = model._default_manager.filter(
        IsAncestorPath(F("path"), OuterRef(OuterRef("path")))
    ).values("pk")
    grants = (
        access_model.objects.filter(resource_id__in=ancestor_ids)
        .filter(Q(user_id=actor.pk) | Q(team_id__in=team_ids_of(actor)))
        .order_by("-role")
        .values("role")[:1]
    )
    return Subquery(grants, output_field=IntegerField())


class EffectiveRole(Expression):
    """The actor's effective role on each row, as one SQL expression.

    ``GREATEST`` of the highest grant (``grant_role_subquery``) and the highest admitted
    link role of the row and its ancestors, rendered from a fixed SQL template instead of
    nested ORM subqueries: resolving and
    compiling those cost several milliseconds of Python per query, more than PostgreSQL
    takes to run them (measured in bench/docs_api.py). The outer row is referenced through
    the alias the compiler gave the model's table, so the expression also works when the
    queryset is itself nested in another query.
    """

    output_field = IntegerField()

    def __init__(self, model: type[AccessControlled], actor: Any):
        super().__init__()
        self.model = model
        self.actor = actor

    def resolve_expression(self, *args: Any, **kwargs: Any) -> EffectiveRole:
        return self  # nothing to resolve: no field references, no joins

    def get_group_by_cols(self) -> list[Any]:
        return []

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        pk = quote(self.model._meta.pk.column)
        outer_path = f"{quote(compiler.query.get_initial_alias())}.{quote('path')}"
        ancestors = f"communs_path_ancestors({outer_path}, {PATH_STEP})"
        link = (
            f"(SELECT _cl.link_role FROM {table} _cl WHERE _cl.path = ANY({ancestors}) "
            f"AND _cl.link_reach IN ({', '.join(['%s'] * len(reaches_for(self.actor)))}) "
            "ORDER BY _cl.link_role DESC LIMIT 1)"
        )
        params: list[Any] = list(reaches_for(self.actor))
        if not _is_authenticated(self.actor):
            return link, params
        from suite.identity.models import TeamMembership

        access_model = self.model.access_model()
        access_table = quote(access_model._meta.db_table)
        resource = quote(access_model._meta.get_field("resource").column)  # type: ignore[misc]
        memberships = quote(TeamMembership._meta.db_table)
        grant = (
            f"(SELECT _ca.role FROM {access_table} _ca WHERE _ca.{resource} IN "
            f"(SELECT _cd.{pk} FROM {table} _cd WHERE _cd.path = ANY({ancestors})) "
            "AND (_ca.user_id = %s OR _ca.team_id IN "
            f"(SELECT _cm.team_id FROM {memberships} _cm WHERE _cm.user_id = %s)) "
            "ORDER BY _ca.role DESC LIMIT 1)"
        )
        # PostgreSQL's GREATEST ignores NULLs: NULL only when neither part gives a role.
        return f"GREATEST({grant}, {link})", [self.actor.pk, self.actor.pk, *params]


def role_expression(model: type[AccessControlled], actor: Any) -> Any:
    return EffectiveRole(model, actor)


def annotate_roles(queryset: QuerySet[M], actor: Any) -> QuerySet[M]:
    """Annotate each object with ``effective_role`` (``None`` when the actor has none)."""
    return queryset.annotate(**{ROLE_ANNOTATION: role_expression(queryset.model, actor)})


def visible_to(queryset: QuerySet[M], actor: Any, need: Perm = Perm.VIEW) -> QuerySet[M]:
    """Objects of ``queryset`` on which ``actor`` has at least the role ``need`` requires."""
    from suite.access.roles import MINIMUM_ROLE

    return annotate_roles(queryset, actor).filter(
        **{f"{ROLE_ANNOTATION}__gte": MINIMUM_ROLE[need]}
    )


def explicitly_shared_with(queryset: QuerySet[M], actor: Any) -> QuerySet[M]:
    """Objects the actor holds a grant on (directly or via a team), ignoring link reach:
    what a "shared with me" list shows."""
    if not _is_authenticated(actor):
        return queryset.none()
    role = grant_role_subquery(queryset.model, actor)
    return queryset.annotate(_granted_role=role).filter(_granted_role__isnull=False)  # type: ignore[return-value]


def effective_role(actor: Any, obj: AccessControlled) -> int | None:
    """The actor's role on ``obj``: the annotated value if the object came from
    :func:`annotate_roles`, otherwise one query."""
    if hasattr(obj, ROLE_ANNOTATION):
        return getattr(obj, ROLE_ANNOTATION)
    model = type(obj)
    return (
        model._default_manager.filter(pk=obj.pk)
        .annotate(**{ROLE_ANNOTATION: role_expression(model, actor)})
        .values_list(ROLE_ANNOTATION, flat=True)
        .first()
    )


def parse_pk(model: type[Model], pk: Any) -> Any:
    """``pk`` converted to ``model``'s primary key type, or ``None`` when it cannot be (an
    unparsable id is simply "not found", never a 500)."""
    field = model._meta.pk
    if field.get_internal_type() == "UUIDField" and not isinstance(pk, uuid.UUID):
        try:
            return uuid.UUID(str(pk))
        except ValueError:
            return None
    try:
        return field.to_python(pk)
    except Exception:  # noqa: BLE001 -- any unparsable id is simply "not found"
        return None


def access_object(
    queryset: QuerySet[M],
    actor: Any,
    pk: Any,
    *,
    need: Perm = Perm.VIEW,
    discoverable: bool = True,
) -> M:
    """Fetch ``pk`` from ``queryset`` with its effective role, or raise.

    Missing, and not visible to the actor, raise the same ``NotFound`` (no existence leak).
    When the actor can see the object but lacks ``need``, ``PermissionDenied`` (403) is raised
    if ``discoverable``, else the same ``NotFound``.
    """
    model = queryset.model
    parsed = parse_pk(model, pk)
    if parsed is None:
        raise NotFound()
    obj = annotate_roles(queryset, actor).filter(pk=parsed).first()
    role = getattr(obj, ROLE_ANNOTATION, None) if obj is not None else None
    if obj is None or not role_allows(role, Perm.VIEW):
        raise NotFound()
    if not role_allows(role, need):
        if discoverable:
            raise PermissionDenied()
        raise NotFound()
    return obj
