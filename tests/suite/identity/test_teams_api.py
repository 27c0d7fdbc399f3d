"""Teams: create, list, rename, delete, members — success, denial and bad input."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from suite.identity.models import Team, TeamMembership
from tests.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(api, user):
    response = api(user).post("/api/v1/teams/", json={"name": "Bureau des affaires"})
    assert response.status_code == 201
    return response.json()


def test_create_team_makes_creator_administrator(team, user):
    assert team["name"] == "Bureau des affaires"
    assert team["role"] == "administrator" and team["member_count"] == 1
    created = Team.objects.get(pk=team["id"])
    assert user.groups.filter(pk=created.group_id).exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_team_bad_name(api, user, name):
    response = api(user).post("/api/v1/teams/", json={"name": name})
    assert_error(response, 422, "validation_error")
    assert not Team.objects.exists()


def test_add_member_and_list(api, user, team):
    member = UserFactory()
    response = api(user).post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(member.pk), "role": "member"})
    assert response.status_code == 201
    assert response.json()["user"]["id"] == str(member.pk) and response.json()["role"] == "member"
    listed = api(member).get(f"/api/v1/teams/{team['id']}/members/").json()
    assert {m["user"]["email"] for m in listed["items"]} == {user.email, member.email}
    assert api(member).get("/api/v1/teams/").json()["items"][0]["role"] == "member"


def test_member_list_is_constant_queries(api, user, team):
    client = api(user)
    for _ in range(3):
        client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk)})
    with CaptureQueriesContext(connection) as few:
        client.get(f"/api/v1/teams/{team['id']}/members/")
    for _ in range(10):
        client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk)})
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/api/v1/teams/{team['id']}/members/")
    assert response.json()["count"] == 14
    assert len(many) == len(few)


def test_add_member_bad_input(api, user, team):
    client = api(user)
    assert_error(
        client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk), "role": "king"}),
        422, "validation_error",
    )
    assert_error(
        client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": "4a0e2b7e-0000-4000-8000-000000000000"}),
        404, "not_found",
    )
    assert_error(client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": "nope"}), 422, "validation_error")
    assert_error(client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(user.pk)}), 409, "member_exists")
    assert TeamMembership.objects.filter(team_id=team["id"]).count() == 1


def test_non_member_sees_404_everywhere(api, team):
    stranger = api(UserFactory())
    assert_error(stranger.get(f"/api/v1/teams/{team['id']}"), 404, "not_found")
    assert_error(stranger.patch(f"/api/v1/teams/{team['id']}", json={"name": "mine"}), 404, "not_found")
    assert_error(stranger.delete(f"/api/v1/teams/{team['id']}"), 404, "not_found")
    assert_error(stranger.get(f"/api/v1/teams/{team['id']}/members/"), 404, "not_found")
    assert_error(
        stranger.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk)}), 404, "not_found"
    )
    assert Team.objects.get(pk=team["id"]).name == "Bureau des affaires"


def test_plain_member_cannot_manage(api, user, team):
    member = UserFactory()
    api(user).post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(member.pk)})
    as_member = api(member)
    assert_error(as_member.patch(f"/api/v1/teams/{team['id']}", json={"name": "mine"}), 403, "permission_denied")
    assert_error(
        as_member.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk)}),
        403, "permission_denied",
    )
    assert_error(as_member.delete(f"/api/v1/teams/{team['id']}/members/{user.pk}"), 403, "permission_denied")
    assert_error(as_member.delete(f"/api/v1/teams/{team['id']}"), 403, "permission_denied")
    # but a member may leave
    assert as_member.delete(f"/api/v1/teams/{team['id']}/members/{member.pk}").status_code == 204
    assert not member.groups.exists()


def test_rename_and_delete(api, user, team):
    client = api(user)
    assert client.patch(f"/api/v1/teams/{team['id']}", json={"name": "Renamed"}).json()["name"] == "Renamed"
    assert client.delete(f"/api/v1/teams/{team['id']}").status_code == 204
    assert not Team.objects.filter(pk=team["id"]).exists()


def test_last_administrator_cannot_leave_or_be_demoted(api, user, team):
    client = api(user)
    assert_error(client.delete(f"/api/v1/teams/{team['id']}/members/{user.pk}"), 409, "last_administrator")
    assert_error(
        client.patch(f"/api/v1/teams/{team['id']}/members/{user.pk}", json={"role": "member"}), 409, "last_administrator"
    )
    other = UserFactory()
    client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(other.pk), "role": "administrator"})
    assert client.patch(f"/api/v1/teams/{team['id']}/members/{user.pk}", json={"role": "member"}).json()["role"] == "member"


def test_member_count_counts_every_member_in_constant_queries(api, user, team):
    client = api(user)
    other = client.post("/api/v1/teams/", json={"name": "Autre bureau"}).json()
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/teams/")
    for _ in range(3):
        client.post(f"/api/v1/teams/{team['id']}/members/", json={"user": str(UserFactory().pk)})
    client.post(f"/api/v1/teams/{other['id']}/members/", json={"user": str(UserFactory().pk)})
    extra = client.post("/api/v1/teams/", json={"name": "Troisième"}).json()
    with CaptureQueriesContext(connection) as many:
        listed = client.get("/api/v1/teams/").json()
    assert len(many) == len(few)
    counts = {item["id"]: item["member_count"] for item in listed["items"]}
    assert counts == {team["id"]: 4, other["id"]: 2, extra["id"]: 1}
    assert client.get(f"/api/v1/teams/{team['id']}").json()["member_count"] == 4
    member = UserFactory()
    client.post(f"/api/v1/teams/{other['id']}/members/", json={"user": str(member.pk)})
    seen_by_member = api(member).get("/api/v1/teams/").json()["items"]
    assert [(item["id"], item["member_count"], item["role"]) for item in seen_by_member] == [(other["id"], 3, "member")]
