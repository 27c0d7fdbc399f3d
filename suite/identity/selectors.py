"""Reads on identity, scoped to what the actor may see."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from suite.identity.models import ApiToken, Team, TeamMembership, User

SEARCH_MIN_LENGTH = 2


def users_searchable_by(actor: User) -> QuerySet[User]:
    """People the actor may find when sharing: their organization (or everyone, when
    ``USER_SEARCH_SCOPE=all``). Bots and deactivated accounts are never offered."""
    # You never share with yourself: the actor is not offered.
    users = User.objects.filter(is_active=True, is_bot=False).exclude(pk=actor.pk)
    if settings.USER_SEARCH_SCOPE == "organization":
        if actor.organization_id is None:
            # Without an organization, only the people you already share a team with.
            users = users.filter(teams__in=Team.objects.filter(memberships__user=actor)).distinct()
        else:
            users = users.filter(organization_id=actor.organization_id)
    return users


def user_search(actor: User, query: str) -> QuerySet[User]:
    query = query.strip()
    users = users_searchable_by(actor)
    if "@" in query:
        return users.filter(email__iexact=query) | users.filter(email__istartswith=query)
    return users.filter(
        Q(full_name__icontains=query) | Q(email__istartswith=query) | Q(short_name__icontains=query)
    ).order_by("full_name", "email")


def teams_of(actor: Any) -> QuerySet[Team]:
    """The actor's teams, each with its number of members.

    Membership of the actor is an ``EXISTS``, not a join: counting over the join that
    filters on the actor's membership would count that one row (every team had 1 member).
    """
    mine = TeamMembership.objects.filter(team_id=OuterRef("pk"), user_id=actor.pk)
    return (
        Team.objects.filter(Exists(mine))
        .annotate(member_count=Count("memberships"))
        .order_by("name", "id")
    )


def team_members(team: Team) -> QuerySet[TeamMembership]:
    return team.memberships.select_related("user").order_by("user__email")


def tokens_of(actor: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=actor.pk).order_by("-created_at")
