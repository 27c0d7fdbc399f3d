"""Abstract models every access-controlled resource of every app derives from, and the
per-user marks (favorites, visits) apps keep on them."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from suite.access.roles import LINK_ROLES, LinkReach, Role

#: Characters per level of a materialized path; 36**STEP siblings per parent.
PATH_STEP = 7
PATH_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def path_segment(index: int) -> str:
    """The fixed-width base-36 segment of the ``index``-th child (0-based)."""
    if index < 0 or index >= len(PATH_ALPHABET) ** PATH_STEP:
        raise ValueError("child index out of range")
    digits = []
    for _ in range(PATH_STEP):
        index, digit = divmod(index, len(PATH_ALPHABET))
        digits.append(PATH_ALPHABET[digit])
    return "".join(reversed(digits))


def ancestor_paths(path: str) -> list[str]:
    """Paths of the ancestors of ``path`` and of ``path`` itself, root first."""
    return [path[:end] for end in range(PATH_STEP, len(path) + 1, PATH_STEP)]


class AccessControlled(models.Model):
    """A resource whose access is granted by role, inherited down a tree, and widened by a
    link reach. Non-tree resources are roots: their path is a single segment.

    ``path`` is a materialized path (fixed-width segments, ``C`` collation so ``LIKE
    'prefix%'`` and range scans use the index): an object's ancestors are the prefixes of its
    path, which lets the access layer resolve inherited grants in the same SQL query.
    """

    path = models.CharField(max_length=252, unique=True, db_collation="C")
    depth = models.PositiveSmallIntegerField(default=1)
    link_reach = models.CharField(
        max_length=20, choices=LinkReach.choices, default=LinkReach.RESTRICTED
    )
    link_role = models.PositiveSmallIntegerField(
        choices=[(role.value, role.label) for role in LINK_ROLES], default=Role.READER
    )

    #: Set by subclasses that hold data not visible to link users (e.g. soft-deleted).
    access_model_name: ClassVar[str] = "accesses"

    class Meta:
        abstract = True

    @classmethod
    def access_model(cls) -> type[ResourceAccess]:
        return cls._meta.get_field(cls.access_model_name).related_model  # type: ignore[return-value]

    @property
    def ancestor_paths(self) -> list[str]:
        return ancestor_paths(self.path)


class ResourceAccess(models.Model):
    """A role granted to one user or one team on one resource (and its descendants).

    Concrete subclasses add ``resource = models.ForeignKey(<Resource>, on_delete=CASCADE,
    related_name="accesses")`` and inherit ``Meta`` to get the constraints."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "identity.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    role = models.PositiveSmallIntegerField(choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Declared for type checkers; concrete subclasses get them from Django.
    objects: ClassVar[models.Manager[Any]]
    user_id: Any
    team_id: Any

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, team__isnull=True) | Q(user__isnull=True, team__isnull=False)),
                name="%(app_label)s_%(class)s_one_principal",
            ),
            models.UniqueConstraint(
                fields=["resource", "user"],
                condition=Q(user__isnull=False),
                name="%(app_label)s_%(class)s_unique_user",
            ),
            models.UniqueConstraint(
                fields=["resource", "team"],
                condition=Q(team__isnull=False),
                name="%(app_label)s_%(class)s_unique_team",
            ),
        ]

    @property
    def principal_kind(self) -> str:
        return "user" if self.user_id else "team"


class ResourceMark(models.Model):
    """A per-user mark on a resource (a favorite, a visit).

    Concrete subclasses add the foreign key to their resource, name it in ``resource_field``,
    and declare their own ``Meta`` with the unique constraint on ``(user, <resource_field>)``
    (one mark per user and resource)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    #: The name of the concrete subclass's foreign key to the resource.
    resource_field: ClassVar[str]
    #: What the mark says, between the user and the resource in ``str()``.
    verb: ClassVar[str]

    user_id: Any

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.user_id} {self.verb} {getattr(self, f'{self.resource_field}_id')}"


class ResourceFavorite(ResourceMark):
    """A resource a user marked as a favorite (``related_name="favorites"`` on the resource
    side)."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)

    verb = "♥"

    class Meta:
        abstract = True


class ResourceVisit(ResourceMark):
    """The last time a user opened a resource, for "recently visited" (``related_name=
    "visits"`` on the resource side; subclasses also index ``(user, -visited_at)``)."""

    visited_at = models.DateTimeField(default=timezone.now)

    verb = "visited"

    class Meta:
        abstract = True
