"""API schemas of document sharing: accesses, invitations and access requests.

Roles travel as slugs (``"reader"`` ... ``"owner"``); the services turn them into
``suite.access.roles.Role`` with ``parse_role`` so an unknown role is one uniform 422.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema

from suite.access.roles import Role


def _slug(role: int | None) -> str | None:
    return None if role is None else Role(role).slug


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
    """One grant on the document or, when ``inherited_from`` is set, on that ancestor (an
    inherited grant applies here too but is managed on the ancestor)."""

    id: int
    user: PersonOut | None
    team: TeamRefOut | None
    role: str
    inherited_from: uuid.UUID | None = Field(
        None, description="The ancestor holding this grant; null for a grant on this document."
    )
    created_at: dt.datetime
    abilities: AccessAbilitiesOut

    @staticmethod
    def resolve_role(obj: Any) -> str | None:
        return _slug(obj.role)

    @staticmethod
    def resolve_inherited_from(obj: Any) -> Any:
        return getattr(obj, "inherited_from", None)

    @staticmethod
    def resolve_abilities(obj: Any) -> dict[str, bool]:
        return {
            "update": bool(getattr(obj, "can_update", False)),
            "delete": bool(getattr(obj, "can_delete", False)),
        }


class AccessCreateIn(Schema):
    user: str | None = Field(None, description="Id of the user to grant the role to.")
    team: str | None = Field(None, description="Id of the team to grant the role to.")
    role: str


class RoleIn(Schema):
    role: str


class InvitationIn(Schema):
    email: str = Field(..., max_length=254)
    role: str
    language: str | None = Field(
        None, description="Language of the invitation email (default: the site's language)."
    )


class InvitationOut(Schema):
    id: uuid.UUID
    email: str
    role: str
    issuer: PersonOut | None
    created_at: dt.datetime
    expires_at: dt.datetime
    is_expired: bool

    @staticmethod
    def resolve_role(obj: Any) -> str | None:
        return _slug(obj.role)


class AccessRequestIn(Schema):
    role: str = "reader"
    message: str = Field("", max_length=500)


class AccessRequestCreatedOut(Schema):
    """All the requester learns: the document's content and sharing stay hidden."""

    id: uuid.UUID
    status: str


class AccessRequestOut(Schema):
    id: uuid.UUID
    user: PersonOut
    role: str
    message: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: uuid.UUID | None = None

    @staticmethod
    def resolve_role(obj: Any) -> str | None:
        return _slug(obj.role)

    @staticmethod
    def resolve_decided_by(obj: Any) -> Any:
        return obj.decided_by_id


class AccessRequestDecisionIn(Schema):
    role: str | None = Field(None, description="Role to give (default: the one requested).")
