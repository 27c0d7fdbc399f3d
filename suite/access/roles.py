"""Roles, permissions and link reach, and which role each permission needs."""

from __future__ import annotations

import enum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.IntegerChoices):
    """Ordered roles: a higher value includes every right of the lower ones.

    Stored as small integers so "the effective role is the maximum of all grants" is a plain
    SQL ``MAX``/``GREATEST``; the API speaks the names (``Role.from_name``/``.name_lower``).
    """

    READER = 10, _("Reader")
    COMMENTER = 20, _("Commenter")
    EDITOR = 30, _("Editor")
    ADMINISTRATOR = 40, _("Administrator")
    OWNER = 50, _("Owner")

    @property
    def slug(self) -> str:
        return self.name.lower()

    @classmethod
    def from_slug(cls, slug: str) -> Role:
        try:
            return cls[slug.upper()]
        except KeyError:
            raise ValueError(slug) from None

    @classmethod
    def slugs(cls) -> list[str]:
        return [role.slug for role in cls]


#: Roles a link may give (a link never makes someone administrator or owner).
LINK_ROLES = (Role.READER, Role.COMMENTER, Role.EDITOR)


class LinkReach(models.TextChoices):
    RESTRICTED = "restricted", _("Restricted")
    AUTHENTICATED = "authenticated", _("Authenticated users")
    PUBLIC = "public", _("Public")


class Perm(enum.StrEnum):
    """What an actor may do on a resource; apps may map extra verbs onto these."""

    VIEW = "view"
    COMMENT = "comment"
    EDIT = "edit"
    SHARE = "share"  # manage accesses, invitations and link settings
    DELETE = "delete"
    DESTROY = "destroy"  # delete for good, transfer ownership


MINIMUM_ROLE: dict[Perm, Role] = {
    Perm.VIEW: Role.READER,
    Perm.COMMENT: Role.COMMENTER,
    Perm.EDIT: Role.EDITOR,
    Perm.SHARE: Role.ADMINISTRATOR,
    Perm.DELETE: Role.ADMINISTRATOR,
    Perm.DESTROY: Role.OWNER,
}


def role_allows(role: int | None, perm: Perm) -> bool:
    return role is not None and role >= MINIMUM_ROLE[perm]


def abilities_for(role: int | None) -> dict[str, bool]:
    """The ``abilities`` map sent to clients, so no client re-implements the rules."""
    return {perm.value: role_allows(role, perm) for perm in Perm}


def role_slug(role: int | None) -> str | None:
    return None if role is None else Role(role).slug
