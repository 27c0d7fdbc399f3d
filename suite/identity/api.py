"""Identity endpoints: the current user, user search, teams, API tokens."""

# No ``from __future__ import annotations``: ``@paginate`` needs real annotations (SearchQuery).

import uuid
from typing import Annotated

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import WithJsonSchema

from suite.errors import ValidationFailed
from suite.identity import selectors, services, tokens
from suite.identity.auth import actor
from suite.identity.models import TeamMembership
from suite.identity.schemas import (
    MeOut,
    MeUpdateIn,
    TeamIn,
    TeamMemberIn,
    TeamMemberOut,
    TeamMemberUpdateIn,
    TeamOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserOut,
)
from suite.openapi import error_statuses
from suite.rate_limits import limit_actor
from suite.schemas import NOT_SPACE

users_router = Router(tags=["users"])

#: The search's minimum, declared for clients; the handler checks it (with its own message).
SearchQuery = Annotated[str, WithJsonSchema({
    "type": "string",
    "pattern": rf"{NOT_SPACE}[\s\S]{{{selectors.SEARCH_MIN_LENGTH - 2},}}{NOT_SPACE}",
    "description": f"At least {selectors.SEARCH_MIN_LENGTH} characters besides surrounding spaces.",
})]

teams_router = Router(tags=["teams"])
tokens_router = Router(tags=["tokens"])


@users_router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: HttpRequest):
    return actor(request)


@users_router.patch("/me", response=MeOut, summary="Update your profile")
def me_update(request: HttpRequest, payload: MeUpdateIn):
    return services.user_update_profile(actor=actor(request), **payload.dict(exclude_unset=True))


@users_router.get("/", response=list[UserOut], summary="Search people to share with")
@paginate
def user_search(request: HttpRequest, q: SearchQuery):
    limit_actor(group="users.search", actor=actor(request), rate=settings.USER_SEARCH_RATE)
    if len(q.strip()) < selectors.SEARCH_MIN_LENGTH:
        raise ValidationFailed(
            _("Type at least %(n)s characters.") % {"n": selectors.SEARCH_MIN_LENGTH},
            details={"q": q},
        )
    return selectors.user_search(actor(request), q)


# --- Teams ------------------------------------------------------------------------------


def _teams_with_role(request: HttpRequest):
    role = TeamMembership.objects.filter(team=OuterRef("pk"), user_id=actor(request).pk).values("role")[:1]
    return selectors.teams_of(actor(request)).annotate(role=Subquery(role))


@teams_router.get("/", response=list[TeamOut], summary="Your teams")
@paginate
def team_list(request: HttpRequest):
    return _teams_with_role(request)


@teams_router.post("/", response={201: TeamOut}, summary="Create a team (you become its administrator)")
def team_create(request: HttpRequest, payload: TeamIn):
    team = services.team_create(actor=actor(request), name=payload.name)
    return Status(201, _teams_with_role(request).get(pk=team.pk))


@teams_router.get("/{team_id}", response=TeamOut, summary="One of your teams")
def team_detail(request: HttpRequest, team_id: str):
    team = services.access_team(actor(request), team_id)
    return _teams_with_role(request).get(pk=team.pk)


@teams_router.patch("/{team_id}", response=TeamOut, summary="Rename a team")
def team_rename(request: HttpRequest, team_id: str, payload: TeamIn):
    team = services.team_rename(actor=actor(request), team_id=team_id, name=payload.name)
    return _teams_with_role(request).get(pk=team.pk)


@teams_router.delete("/{team_id}", response={204: None}, summary="Delete a team")
def team_delete(request: HttpRequest, team_id: str):
    services.team_delete(actor=actor(request), team_id=team_id)
    return Status(204, None)


@teams_router.get("/{team_id}/members/", response=list[TeamMemberOut], summary="Members of a team")
@paginate
def team_member_list(request: HttpRequest, team_id: str):
    return selectors.team_members(services.access_team(actor(request), team_id))


@teams_router.post("/{team_id}/members/", response={201: TeamMemberOut}, summary="Add a member")
@error_statuses(409)
def team_member_add(request: HttpRequest, team_id: str, payload: TeamMemberIn):
    membership = services.team_member_add(
        actor=actor(request), team_id=team_id, user_id=payload.user, role=payload.role, request=request
    )
    return Status(201, membership)


@teams_router.patch("/{team_id}/members/{user_id}", response=TeamMemberOut, summary="Change a member's role")
@error_statuses(409)
def team_member_update(request: HttpRequest, team_id: str, user_id: uuid.UUID, payload: TeamMemberUpdateIn):
    return services.team_member_update(
        actor=actor(request), team_id=team_id, user_id=user_id, role=payload.role
    )


@teams_router.delete("/{team_id}/members/{user_id}", response={204: None}, summary="Remove a member (or leave)")
@error_statuses(409)
def team_member_remove(request: HttpRequest, team_id: str, user_id: uuid.UUID):
    services.team_member_remove(actor=actor(request), team_id=team_id, user_id=user_id, request=request)
    return Status(204, None)


# --- API tokens -------------------------------------------------------------------------


@tokens_router.get("/", response=list[TokenOut], summary="Your API tokens")
@paginate
def token_list(request: HttpRequest):
    return selectors.tokens_of(actor(request))


@tokens_router.post("/", response={201: TokenCreatedOut}, summary="Create an API token")
def token_create(request: HttpRequest, payload: TokenIn):
    token, raw = tokens.token_create(
        actor=actor(request),
        user=actor(request),
        name=payload.name,
        scopes=payload.scopes,
        expires_in_days=payload.expires_in_days,
        actor_scopes=getattr(request, "auth_scopes", None),
        request=request,
    )
    token.token = raw  # type: ignore[attr-defined]
    return Status(201, token)


@tokens_router.delete("/{token_id}", response={204: None}, summary="Revoke an API token")
def token_revoke(request: HttpRequest, token_id: uuid.UUID):
    tokens.token_revoke(actor=actor(request), token_id=token_id, request=request)
    return Status(204, None)
