"""Platform events published by the shared access layer (``suite.access.grants``), after the
grant, change, revocation or link change has committed. Apps subscribe to them to notify
people or refresh what they cache about who may see what."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from suite.events import PlatformEvent, register

# The slugs of suite.access.roles.Role (tests check that they stay in step).
RoleSlug = Literal["reader", "commenter", "editor", "administrator", "owner"]
PrincipalType = Literal["user", "team"]
LinkReachValue = Literal["restricted", "authenticated", "public"]


class AccessEvent(PlatformEvent):
    """A change of one principal's access to one resource."""

    resource_type: str  # "<app_label>.<model>", e.g. "docs_app.document"
    resource_id: str
    principal_type: PrincipalType
    principal_id: uuid.UUID


@register
class AccessGranted(AccessEvent):
    """A user or team was given a role on a resource."""

    name: ClassVar[str] = "access.granted"
    role: RoleSlug


@register
class AccessChanged(AccessEvent):
    """A user's or team's role on a resource changed."""

    name: ClassVar[str] = "access.changed"
    role: RoleSlug
    previous_role: RoleSlug


@register
class AccessRevoked(AccessEvent):
    """A user or team lost (or left) its access to a resource."""

    name: ClassVar[str] = "access.revoked"
    previous_role: RoleSlug


@register
class LinkChanged(PlatformEvent):
    """The link reach or link role of a resource changed."""

    name: ClassVar[str] = "access.link_changed"
    resource_type: str
    resource_id: str
    link_reach: LinkReachValue
    link_role: RoleSlug
