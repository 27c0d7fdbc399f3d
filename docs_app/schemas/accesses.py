"""API schemas of the sharing that only documents have: invitations and access requests.

The schemas of accesses themselves (``AccessOut``, ``AccessCreateIn``, ``RoleIn``,
``PersonOut``) are the platform's, in ``suite.access.schemas``. Roles travel as slugs
(``"reader"`` ... ``"owner"``); the services turn them into ``suite.access.roles.Role`` with
``parse_role`` so an unknown role is one uniform 422.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema

from suite.access.roles import role_slug
from suite.access.schemas import PersonOut
from suite.schemas import InputSchema, LinkRoleSlug, RoleSlug, documented, one_of


def _languages() -> list[str]:
    from django.conf import settings

    return [code for code, _name in settings.LANGUAGES]


class InvitationIn(InputSchema):
    email: str = Field(..., max_length=254, json_schema_extra=documented(format="email"))
    role: RoleSlug
    language: str | None = Field(
        None, description="Language of the invitation email (default: the site's language).",
        json_schema_extra=one_of(_languages, nullable=True),
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
        return role_slug(obj.role)


class AccessRequestIn(InputSchema):
    role: LinkRoleSlug = "reader"
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
        return role_slug(obj.role)

    @staticmethod
    def resolve_decided_by(obj: Any) -> Any:
        return obj.decided_by_id


class AccessRequestDecisionIn(InputSchema):
    role: RoleSlug | None = Field(None, description="Role to give (default: the one requested).")
