"""API schemas of the identity endpoints."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Field, Schema

from suite.schemas import InputSchema


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


class MeUpdateIn(InputSchema):
    full_name: str | None = Field(None, max_length=255)
    short_name: str | None = Field(None, max_length=100)
    language: str | None = None
    timezone: str | None = Field(None, max_length=64)


class TeamIn(InputSchema):
    name: str = Field(..., max_length=100)


class TeamOut(Schema):
    id: uuid.UUID
    name: str
    role: str = Field(..., description="The actor's role in the team: member or administrator.")
    member_count: int
    created_at: dt.datetime


class TeamMemberIn(InputSchema):
    user: uuid.UUID
    role: str = "member"


class TeamMemberUpdateIn(InputSchema):
    role: str


class TeamMemberOut(Schema):
    user: UserOut
    role: str
    created_at: dt.datetime


class TokenIn(InputSchema):
    name: str = Field(..., max_length=100)
    scopes: list[str] = Field(default_factory=list, description="Empty: all of your rights.")
    expires_in_days: int | None = Field(None, ge=1)


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
