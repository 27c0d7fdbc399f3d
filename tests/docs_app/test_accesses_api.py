"""``/api/v1/documents/<id>/accesses/``: listing (with inherited grants), granting, changing
and revoking roles, through the sharing rules of ``suite.access.grants``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from docs_app.models import DocumentAccess
from docs_app.permissions import access_document
from suite.access.roles import LinkReach, Role
from tests.conftest import assert_error
from tests.docs_app.factories_sharing import API, grant, make_document
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGERS = {"administrator", "owner", "team_administrator"}
NON_MANAGERS = {"reader", "commenter", "editor", "team_reader"}
ALL_ROLES = sorted(MANAGERS | NON_MANAGERS)


def url(cast, suffix=""):
    return f"{API}/{cast.document.pk}/accesses/{suffix}"


# --- list -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_ROLES)
def test_list_allowed_for_every_role(api, cast, name):
    response = api(cast[name]).get(url(cast))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 7
    roles = sorted(item["role"] for item in body["items"])
    assert roles == sorted(r.slug for r in [Role.READER, Role.COMMENTER, Role.EDITOR,
                                            Role.ADMINISTRATOR, Role.OWNER, Role.READER,
                                            Role.ADMINISTRATOR])


@pytest.mark.parametrize("link_role", [Role.READER, Role.EDITOR])
def test_link_only_visitor_sees_only_managers(api, cast, link_role):
    cast.document.link_reach = LinkReach.AUTHENTICATED
    cast.document.link_role = link_role
    cast.document.save(update_fields=["link_reach", "link_role"])
    child = make_document(parent=cast.document, title="child")
    grant(child, Role.ADMINISTRATOR, user=UserFactory())
    grant(child, Role.EDITOR, user=UserFactory())

    for document, expected in ((cast.document, 3), (child, 4)):
        response = api(cast["stranger"]).get(f"{API}/{document.pk}/accesses/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == expected
        assert {item["role"] for item in body["items"]} == {"administrator", "owner"}
        assert all(item["abilities"] == {"update": False, "delete": False}
                   for item in body["items"])


def test_grant_holder_sees_everyone_even_with_a_link(api, cast):
    cast.document.link_reach = LinkReach.AUTHENTICATED
    cast.document.save(update_fields=["link_reach"])
    child = make_document(parent=cast.document, title="child")
    # Through a team, on an ancestor: still a collaborator, who sees the whole list.
    response = api(cast["team_reader"]).get(f"{API}/{child.pk}/accesses/")
    assert response.json()["count"] == 7


def test_list_denied_to_stranger_as_not_found(api, cast):
    assert_error(api(cast["stranger"]).get(url(cast)), 404, "not_found")


def test_list_denied_to_anonymous(client, cast):
    assert_error(client.get(url(cast)), 401, "not_authenticated")


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000", "1"])
def test_list_unknown_document_is_not_found(api, user, bad_id):
    assert_error(api(user).get(f"{API}/{bad_id}/accesses/"), 404, "not_found")


def test_list_shape_user_and_team_entries(api, cast):
    response = api(cast["owner"]).get(url(cast))
    items = {item["id"]: item for item in response.json()["items"]}
    reader = items[cast.accesses["reader"].pk]
    assert reader["user"] == {
        "id": str(cast["reader"].pk),
        "email": cast["reader"].email,
        "full_name": cast["reader"].full_name,
    }
    assert reader["team"] is None
    assert reader["inherited_from"] is None
    assert reader["abilities"] == {"update": True, "delete": True}
    team_entry = items[cast.accesses["team_reader"].pk]
    team = cast.accesses["team_reader"].team
    assert team_entry["user"] is None
    assert team_entry["team"] == {"id": str(team.pk), "name": team.name}
    # The only owner cannot be changed nor removed: not offered.
    owner_entry = items[cast.accesses["owner"].pk]
    assert owner_entry["abilities"] == {"update": False, "delete": False}


def test_list_abilities_of_an_administrator(api, cast):
    grant(cast.document, Role.OWNER, user=UserFactory())  # two owners now
    items = {i["id"]: i for i in api(cast["administrator"]).get(url(cast)).json()["items"]}
    assert items[cast.accesses["owner"].pk]["abilities"] == {"update": False, "delete": False}
    assert items[cast.accesses["editor"].pk]["abilities"] == {"update": True, "delete": True}


def test_list_abilities_of_a_reader_only_allow_leaving(api, cast):
    items = {i["id"]: i for i in api(cast["reader"]).get(url(cast)).json()["items"]}
    assert items[cast.accesses["reader"].pk]["abilities"] == {"update": False, "delete": True}
    assert items[cast.accesses["editor"].pk]["abilities"] == {"update": False, "delete": False}


def test_list_includes_inherited_accesses_flagged(api, cast):
    child = make_document(parent=cast.document, title="child")
    grandchild = make_document(parent=child, title="grandchild")
    guest = UserFactory()
    direct = grant(grandchild, Role.EDITOR, user=guest)
    middle = grant(child, Role.COMMENTER, user=UserFactory())

    response = api(cast["owner"]).get(f"{API}/{grandchild.pk}/accesses/")

    assert response.status_code == 200
    items = response.json()["items"]
    assert response.json()["count"] == 9
    # Closest first: the grandchild's own grant, then the child's, then the root's.
    assert items[0]["id"] == direct.pk and items[0]["inherited_from"] is None
    assert items[0]["abilities"] == {"update": True, "delete": True}
    assert items[1]["id"] == middle.pk and items[1]["inherited_from"] == str(child.pk)
    assert all(i["inherited_from"] == str(cast.document.pk) for i in items[2:])
    # Inherited grants are managed on the ancestor holding them.
    assert all(i["abilities"] == {"update": False, "delete": False} for i in items[1:])


def _count_list_queries(api, actor, document):
    client = api(actor)
    client.get(f"{API}/{document.pk}/accesses/")  # warm-up: the token's first use is recorded
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/{document.pk}/accesses/")
    assert response.status_code == 200
    return len(queries), response.json()["count"]


def test_list_query_count_is_constant(api, cast):
    child = make_document(parent=cast.document)
    few, count_few = _count_list_queries(api, cast["owner"], child)
    for _ in range(15):
        grant(child, Role.READER, user=UserFactory())
        team = TeamFactory()
        grant(cast.document, Role.EDITOR, team=team)
    many, count_many = _count_list_queries(api, cast["owner"], child)
    assert count_many == count_few + 30
    assert many == few


# --- create -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANAGERS))
def test_create_allowed_for_managers(api, cast, name):
    newcomer = UserFactory()
    response = api(cast[name]).post(url(cast), json={"user": str(newcomer.pk), "role": "editor"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "editor"
    assert body["user"]["id"] == str(newcomer.pk)
    assert body["inherited_from"] is None
    assert body["abilities"] == {"update": True, "delete": True}
    assert DocumentAccess.objects.get(resource=cast.document, user=newcomer).role == Role.EDITOR


@pytest.mark.parametrize("name", sorted(NON_MANAGERS))
def test_create_denied_for_non_managers(api, cast, name):
    newcomer = UserFactory()
    response = api(cast[name]).post(url(cast), json={"user": str(newcomer.pk), "role": "reader"})
    assert_error(response, 403, "permission_denied")
    assert not DocumentAccess.objects.filter(user=newcomer).exists()


def test_create_denied_to_stranger_and_anonymous(api, client, cast):
    newcomer = UserFactory()
    payload = {"user": str(newcomer.pk), "role": "reader"}
    assert_error(api(cast["stranger"]).post(url(cast), json=payload), 404, "not_found")
    assert_error(client.post(url(cast), payload, content_type="application/json"), 401,
                 "not_authenticated")
    assert not DocumentAccess.objects.filter(user=newcomer).exists()


def test_create_above_own_role_is_denied(api, cast):
    newcomer = UserFactory()
    response = api(cast["administrator"]).post(
        url(cast), json={"user": str(newcomer.pk), "role": "owner"}
    )
    assert_error(response, 403, "permission_denied")
    assert not DocumentAccess.objects.filter(user=newcomer).exists()


def test_create_duplicate_is_conflict(api, cast):
    response = api(cast["owner"]).post(
        url(cast), json={"user": str(cast["reader"].pk), "role": "editor"}
    )
    assert_error(response, 409, "access_exists")
    assert cast.accesses["reader"].role == DocumentAccess.objects.get(
        pk=cast.accesses["reader"].pk
    ).role == Role.READER


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"user": "00000000-0000-0000-0000-000000000000", "role": "reader"}, 404, "not_found"),
        ({"user": "not-a-uuid", "role": "reader"}, 404, "not_found"),
        ({"team": "00000000-0000-0000-0000-000000000000", "role": "reader"}, 404, "not_found"),
        ({"role": "reader"}, 422, "validation_error"),
        ({"user": "USER", "team": "TEAM", "role": "reader"}, 422, "validation_error"),
        ({"user": "USER", "role": "boss"}, 422, "validation_error"),
        ({"user": "USER"}, 422, "validation_error"),
    ],
)
def test_create_bad_input(api, cast, payload, status, code):
    newcomer, team = UserFactory(), TeamFactory()
    payload = {
        k: (str(newcomer.pk) if v == "USER" else str(team.pk) if v == "TEAM" else v)
        for k, v in payload.items()
    }
    before = DocumentAccess.objects.count()
    error = assert_error(api(cast["owner"]).post(url(cast), json=payload), status, code)
    assert DocumentAccess.objects.count() == before
    if status == 404 and "user" in payload:
        assert error["details"]["field"] == "user"
    if status == 404 and "team" in payload:
        assert error["details"]["field"] == "team"


def test_team_sharing_reaches_members_and_descendants(api, cast):
    child = make_document(parent=cast.document, title="child")
    grandchild = make_document(parent=child, title="grandchild")
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user
    assert_error(api(member).get(f"{API}/{grandchild.pk}/accesses/"), 404, "not_found")

    response = api(cast["owner"]).post(url(cast), json={"team": str(team.pk), "role": "editor"})

    assert response.status_code == 201, response.content
    assert response.json()["team"] == {"id": str(team.pk), "name": team.name}
    for document in (cast.document, child, grandchild):
        assert access_document(member, document.pk).effective_role == Role.EDITOR
    listed = api(member).get(f"{API}/{grandchild.pk}/accesses/")
    assert listed.status_code == 200
    team_entry = next(
        i for i in listed.json()["items"] if i["team"] and i["team"]["id"] == str(team.pk)
    )
    assert team_entry["role"] == "editor"
    assert team_entry["inherited_from"] == str(cast.document.pk)
    # An editor through the team, not a manager.
    assert_error(
        api(member).post(
            f"{API}/{child.pk}/accesses/", json={"user": str(UserFactory().pk), "role": "reader"}
        ),
        403,
        "permission_denied",
    )


# --- update -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANAGERS))
def test_update_allowed_for_managers(api, cast, name):
    access = cast.accesses["editor"]
    response = api(cast[name]).patch(url(cast, access.pk), json={"role": "commenter"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "commenter"
    access.refresh_from_db()
    assert access.role == Role.COMMENTER


@pytest.mark.parametrize("name", sorted(NON_MANAGERS))
def test_update_denied_for_non_managers(api, cast, name):
    access = cast.accesses["commenter"]
    response = api(cast[name]).patch(url(cast, access.pk), json={"role": "reader"})
    assert_error(response, 403, "permission_denied")
    access.refresh_from_db()
    assert access.role == Role.COMMENTER


def test_update_denied_to_stranger_and_anonymous(api, client, cast):
    access = cast.accesses["editor"]
    assert_error(api(cast["stranger"]).patch(url(cast, access.pk), json={"role": "reader"}),
                 404, "not_found")
    assert_error(client.patch(url(cast, access.pk), {"role": "reader"},
                              content_type="application/json"), 401, "not_authenticated")
    access.refresh_from_db()
    assert access.role == Role.EDITOR


def test_update_administrator_cannot_change_owner(api, cast):
    grant(cast.document, Role.OWNER, user=UserFactory())
    access = cast.accesses["owner"]
    response = api(cast["administrator"]).patch(url(cast, access.pk), json={"role": "editor"})
    assert_error(response, 403, "permission_denied")
    access.refresh_from_db()
    assert access.role == Role.OWNER


def test_update_above_own_role_is_denied(api, cast):
    access = cast.accesses["editor"]
    response = api(cast["administrator"]).patch(url(cast, access.pk), json={"role": "owner"})
    assert_error(response, 403, "permission_denied")


def test_update_last_owner_cannot_be_downgraded(api, cast):
    access = cast.accesses["owner"]
    response = api(cast["owner"]).patch(url(cast, access.pk), json={"role": "administrator"})
    assert_error(response, 409, "last_owner")
    access.refresh_from_db()
    assert access.role == Role.OWNER


@pytest.mark.parametrize(
    ("access_id", "payload", "status", "code"),
    [
        ("EDITOR", {"role": "chief"}, 422, "validation_error"),
        ("EDITOR", {}, 422, "validation_error"),
        ("999999999", {"role": "reader"}, 404, "not_found"),
        ("abc", {"role": "reader"}, 404, "not_found"),
    ],
)
def test_update_bad_input(api, cast, access_id, payload, status, code):
    access = cast.accesses["editor"]
    target = access.pk if access_id == "EDITOR" else access_id
    assert_error(api(cast["owner"]).patch(url(cast, target), json=payload), status, code)
    access.refresh_from_db()
    assert access.role == Role.EDITOR


def test_update_access_of_another_document_is_not_found(api, cast):
    other = make_document()
    foreign = grant(other, Role.READER, user=UserFactory())
    assert_error(api(cast["owner"]).patch(url(cast, foreign.pk), json={"role": "editor"}),
                 404, "not_found")


def test_update_inherited_access_points_to_ancestor(api, cast):
    child = make_document(parent=cast.document)
    access = cast.accesses["editor"]
    error = assert_error(
        api(cast["owner"]).patch(f"{API}/{child.pk}/accesses/{access.pk}", json={"role": "reader"}),
        409,
        "access_inherited",
    )
    assert error["details"]["document"] == str(cast.document.pk)


# --- delete -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANAGERS))
def test_delete_allowed_for_managers(api, cast, name):
    access = cast.accesses["commenter"]
    response = api(cast[name]).delete(url(cast, access.pk))
    assert response.status_code == 204, response.content
    assert not DocumentAccess.objects.filter(pk=access.pk).exists()


@pytest.mark.parametrize("name", sorted(NON_MANAGERS))
def test_delete_of_someone_else_denied_for_non_managers(api, cast, name):
    access = cast.accesses["commenter" if name != "commenter" else "editor"]
    assert_error(api(cast[name]).delete(url(cast, access.pk)), 403, "permission_denied")
    assert DocumentAccess.objects.filter(pk=access.pk).exists()


@pytest.mark.parametrize("name", ["reader", "commenter", "editor", "administrator"])
def test_delete_own_access_is_leaving(api, cast, name):
    access = cast.accesses[name]
    assert api(cast[name]).delete(url(cast, access.pk)).status_code == 204
    assert not DocumentAccess.objects.filter(pk=access.pk).exists()


def test_delete_denied_to_stranger_and_anonymous(api, client, cast):
    access = cast.accesses["reader"]
    assert_error(api(cast["stranger"]).delete(url(cast, access.pk)), 404, "not_found")
    assert_error(client.delete(url(cast, access.pk)), 401, "not_authenticated")
    assert DocumentAccess.objects.filter(pk=access.pk).exists()


def test_delete_last_owner_cannot_leave(api, cast):
    access = cast.accesses["owner"]
    assert_error(api(cast["owner"]).delete(url(cast, access.pk)), 409, "last_owner")
    assert DocumentAccess.objects.filter(pk=access.pk).exists()


def test_delete_owner_by_administrator_denied(api, cast):
    grant(cast.document, Role.OWNER, user=UserFactory())
    access = cast.accesses["owner"]
    assert_error(api(cast["administrator"]).delete(url(cast, access.pk)), 403, "permission_denied")
    assert DocumentAccess.objects.filter(pk=access.pk).exists()


def test_delete_owner_by_another_owner_allowed(api, cast):
    second = UserFactory()
    grant(cast.document, Role.OWNER, user=second)
    access = cast.accesses["owner"]
    assert api(second).delete(url(cast, access.pk)).status_code == 204


@pytest.mark.parametrize("access_id", ["999999999", "abc", "-1"])
def test_delete_bad_id_is_not_found(api, cast, access_id):
    before = DocumentAccess.objects.count()
    assert_error(api(cast["owner"]).delete(url(cast, access_id)), 404, "not_found")
    assert DocumentAccess.objects.count() == before


@pytest.mark.parametrize("reach", ["restricted", "authenticated", "public"])
def test_anonymous_is_unauthenticated_whatever_the_link_reach(client, cast, reach):
    cast.document.link_reach = reach
    cast.document.save(update_fields=["link_reach"])
    assert_error(client.get(url(cast)), 401, "not_authenticated")


def test_documents_in_the_trash_are_not_found(api, cast):
    from django.utils import timezone

    type(cast.document).objects.filter(pk=cast.document.pk).update(
        deleted_at=timezone.now(), ancestors_deleted_at=timezone.now()
    )
    assert_error(api(cast["owner"]).get(url(cast)), 404, "not_found")
    assert_error(
        api(cast["owner"]).post(url(cast), json={"user": str(UserFactory().pk), "role": "reader"}),
        404,
        "not_found",
    )
