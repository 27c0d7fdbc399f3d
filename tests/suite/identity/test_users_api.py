"""/users/me and user search for sharing (scoped to the organization)."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error
from tests.factories import OrganizationFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_me_returns_profile(api, user):
    body = api(user).get("/api/v1/users/me").json()
    assert body["id"] == str(user.pk) and body["email"] == user.email
    assert body["full_name"] == user.full_name and body["timezone"] == "UTC"


def test_me_requires_auth(client):
    assert_error(client.get("/api/v1/users/me"), 401, "not_authenticated")


def test_update_profile(api, user):
    body = api(user).patch("/api/v1/users/me", json={"language": "fr", "timezone": "Europe/Paris"}).json()
    assert body["language"] == "fr" and body["timezone"] == "Europe/Paris"


@pytest.mark.parametrize("payload", [{"language": "klingon"}, {"timezone": "Mars/Olympus"}])
def test_update_profile_bad_input(api, user, payload):
    assert_error(api(user).patch("/api/v1/users/me", json=payload), 422, "validation_error")
    user.refresh_from_db()
    assert user.language is None and user.timezone == "UTC"


def test_search_is_limited_to_the_organization(api):
    org, other_org = OrganizationFactory(), OrganizationFactory()
    actor = UserFactory(organization=org, full_name="Camille Actor")
    colleague = UserFactory(organization=org, full_name="Camille Martin")
    UserFactory(organization=other_org, full_name="Camille Durand")
    UserFactory(organization=org, full_name="Camille Bot", is_bot=True)
    found = api(actor).get("/api/v1/users/?q=camille").json()["items"]
    assert [u["id"] for u in found] == [str(colleague.pk)]
    assert set(found[0]) == {"id", "email", "full_name", "short_name"}


def test_search_everyone_when_configured(api, settings):
    settings.USER_SEARCH_SCOPE = "all"
    actor = UserFactory(organization=OrganizationFactory(), full_name="Sam Actor")
    outsider = UserFactory(organization=OrganizationFactory(), full_name="Dominique Outsider")
    found = api(actor).get("/api/v1/users/?q=outsider").json()["items"]
    assert [u["id"] for u in found] == [str(outsider.pk)]


def test_search_without_organization_finds_team_mates_only(api):
    actor = UserFactory(organization=None, full_name="Alex Actor")
    mate = UserFactory(organization=None, full_name="Alex Mate")
    UserFactory(organization=None, full_name="Alex Stranger")
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=actor)
    TeamMembershipFactory(team=team, user=mate)
    found = api(actor).get("/api/v1/users/?q=alex").json()["items"]
    assert [u["id"] for u in found] == [str(mate.pk)]


def test_search_never_offers_the_actor(api):
    org = OrganizationFactory()
    actor = UserFactory(organization=org, full_name="Claude Self")
    other = UserFactory(organization=org, full_name="Claude Other")
    found = api(actor).get("/api/v1/users/?q=claude").json()["items"]
    assert [u["id"] for u in found] == [str(other.pk)]


def test_search_by_exact_email(api):
    org = OrganizationFactory()
    actor = UserFactory(organization=org)
    target = UserFactory(organization=org, email="claude.dupont@example.gouv.fr")
    found = api(actor).get("/api/v1/users/?q=Claude.Dupont@example.gouv.fr").json()["items"]
    assert [u["id"] for u in found] == [str(target.pk)]


@pytest.mark.parametrize("query", ["", "a", "  "])
def test_search_needs_two_characters(api, user, query):
    assert_error(api(user).get(f"/api/v1/users/?q={query}"), 422, "validation_error")


def test_search_requires_q(api, user):
    assert_error(api(user).get("/api/v1/users/"), 422, "validation_error")


def test_search_requires_auth(client):
    assert_error(client.get("/api/v1/users/?q=camille"), 401, "not_authenticated")


def test_search_is_rate_limited_per_user(api, user, settings):
    settings.USER_SEARCH_RATE = "2/m"
    me = api(user)
    assert me.get("/api/v1/users/?q=camille").status_code == 200
    assert me.get("/api/v1/users/?q=dominique").status_code == 200
    refused = me.get("/api/v1/users/?q=eve")
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert api(UserFactory()).get("/api/v1/users/?q=eve").status_code == 200
