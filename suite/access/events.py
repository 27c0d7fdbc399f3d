"""Platform events published by the shared access layer."""

from __future__ import annotations

import uuid
from typing import ClassVar

from suite.events import PlatformEvent, register


class AccessEvent(PlatformEvent):
    resource_type: str  # "<app_label>.<model>"
    resource_id: str
    principal_type: str  # "user" | "team"
    principal_id: uuid.UUID


@register
class AccessGranted(AccessEvent):
    name: ClassVar[str] = "access.granted"
    role: str


@register
class AccessChanged(AccessEvent):
    name: ClassVar[str] = "access.changed"
    role: str
    previous_role: str


@register
class AccessRevoked(AccessEvent):
    name: ClassVar[str] = "access.revoked"
    previous_role: str


@register
class LinkChanged(PlatformEvent):
    name: ClassVar[str] = "access.link_changed"
    resource_type: str
    resource_id: str
    link_reach: str
    link_role: str
