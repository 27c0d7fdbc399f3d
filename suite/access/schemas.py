"""API schemas of sharing, common to every app: who has access to a resource and the
inputs that grant or change a role.

Roles travel as slugs (``"reader"`` ... ``"owner"``); the services turn them into
``suite.access.roles.Role`` with ``parse_role`` so an unknown role is one uniform 422.
Apps import these classes instead of declaring their own, so the OpenAPI document has one
``AccessOut`` (one generated client type) whatever the product.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from suite.access.roles import role_slug
from suite.schemas import InputSchema, RoleSlug


class PersonOut(Schema):
    """A user as shown in a sharing dialog."""

    id: uuid.UUID
    email: str
    full_name: str


class TeamRefOut(Schema):
    id: uuid.UUID
    name: str


class AccessAbilitiesOut(Schema):
    update: bool
    delete: bool


class AccessOut(Schema):
    """One grant on the resource or, when ``inherited_from`` is set, on that ancestor (an
    inherited grant applies here too but is managed on the ancestor)."""

    id: int
    user: PersonOut | None
    team: TeamRefOut | None
    role: str
    inherited_from: uuid.UUID | None = Field(
        None, description="The ancestor holding this grant; null for a grant on this resource itself."
    )
    created_at: dt.datetime
    abilities: AccessAbilitiesOut

    @staticmethod
    def resolve_role(obj: Any) -> str | None:
        return role_slug(obj.role)

    @staticmethod
    def resolve_inherited_from(obj: Any) -> Any:
        return getattr(obj, "inherited_from", None)

    @staticmethod
    def resolve_abilities(obj: Any) -> dict[str, bool]:
        return {
            "update": bool(getattr(obj, "can_update", False)),
            "delete": bool(getattr(obj, "can_delete", False)),
        }


class AccessCreateIn(InputSchema):
    """Exactly one of ``user`` and ``team``."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["user"], "properties": {"user": {"type": "string"}, "team": {"type": "null"}}},
        {"required": ["team"], "properties": {"team": {"type": "string"}, "user": {"type": "null"}}},
    ]})

    user: str | None = Field(None, description="Id of the user to grant the role to.")
    team: str | None = Field(None, description="Id of the team to grant the role to.")
    role: RoleSlug


class RoleIn(InputSchema):
    role: RoleSlug
