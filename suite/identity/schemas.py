"""API schemas of the identity endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any, Literal

from ninja import Field, Schema

from suite.identity.scopes import KNOWN_SCOPES
from suite.identity.services import TEAM_NAME_MAX
from suite.schemas import InputSchema, PositiveInt, name_field, one_of


class OrganizationOut(Schema):
    id: uuid.UUID
    name: str
    registration_id: str | None


class UserOut(Schema):
    """A user as other people see them (sharing dialogs, member lists)."""

    id: uuid.UUID
    email: str
    full_name: str
    short_name: str


class MeOut(UserOut):
    language: str | None
    timezone: str
    organization: OrganizationOut | None
    is_bot: bool
    is_staff: bool
    created_at: dt.datetime


def _languages() -> list[str]:
    from django.conf import settings

    return [code for code, _name in settings.LANGUAGES]


def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


class MeUpdateIn(InputSchema):
    full_name: str | None = Field(None, max_length=255)
    short_name: str | None = Field(None, max_length=100)
    language: str | None = Field(None, json_schema_extra=one_of(_languages, nullable=True))
    timezone: str | None = Field(
        None, max_length=64, json_schema_extra=one_of(_time_zones, nullable=True),
        description="An IANA time zone, e.g. Europe/Paris.",
    )


class TeamIn(InputSchema):
    name: str = name_field(TEAM_NAME_MAX)


class TeamOut(Schema):
    id: uuid.UUID
    name: str
    role: str = Field(..., description="The actor's role in the team: member or administrator.")
    member_count: int
    created_at: dt.datetime


TeamRoleSlug = Literal["member", "administrator"]


class TeamMemberIn(InputSchema):
    user: uuid.UUID = Field(..., strict=False)
    role: TeamRoleSlug = "member"


class TeamMemberUpdateIn(InputSchema):
    role: TeamRoleSlug


class TeamMemberOut(Schema):
    user: UserOut
    role: str
    created_at: dt.datetime


def _max_expiry(schema: dict[str, Any]) -> None:
    from django.conf import settings

    schema["maximum"] = settings.API_TOKEN_MAX_EXPIRY_DAYS


class TokenIn(InputSchema):
    name: str = name_field(100)
    scopes: list[Literal[tuple(sorted(KNOWN_SCOPES))]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="Empty: all of your rights. `<area>` or `<area>:read` (safe methods only).",
    )
    expires_in_days: PositiveInt | None = Field(
        None, json_schema_extra=_max_expiry,
        description="Default: API_TOKEN_DEFAULT_EXPIRY_DAYS.",
    )


class TokenOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The secret; shown once, store it now.")
