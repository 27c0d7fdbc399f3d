"""``/api/v1/drive/items/<id>/accesses/``: who has access to a drive item (with the grants
inherited from its folders), granting to users and teams, changing, revoking and leaving,
through the platform's sharing endpoints."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drive_app.models import Item, ItemAccess
from drive_app.permissions import access_item
from suite.access.roles import LinkReach, Role
from suite.errors import NotFound
from tests.conftest import assert_error
from tests.drive_app.conftest import API
from tests.drive_app.factories import grant, make_drive_cast, make_item, make_workspace
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast():
    return make_drive_cast()


def url(item, suffix=""):
    return f"{API}/items/{item.pk}/accesses/{suffix}"


class Anonymous:
    """The bare test client with the ``api(user)`` calling convention (JSON bodies)."""

    def __init__(self, client):
        self.client = client

    def get(self, path):
        return self.client.get(path)

    def post(self, path, json):
        return self.client.post(path, json, content_type="application/json")

    def patch(self, path, json):
        return self.client.patch(path, json, content_type="application/json")

    def delete(self, path):
        return self.client.delete(path)


def as_actor(api, client, cast, name):
    """The client of the named cast member, or an unauthenticated one for ``anonymous``."""
    return Anonymous(client) if name == "anonymous" else api(cast[name])


# --- list -------------------------------------------------------------------------------


def test_list_direct_and_inherited_grants_of_a_folder(api, cast):
    response = api(cast["owner"]).get(url(cast.folder))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 4
    items = {item["id"]: item for item in body["items"]}
    owner = items[cast.accesses["owner"].pk]
    assert owner["role"] == "owner"
    assert owner["inherited_from"] == str(cast.workspace.pk)
    # Inherited grants are managed on the workspace, where the owner's grant is held.
    assert owner["abilities"] == {"update": False, "delete": False}
    for name in ("reader", "editor", "administrator"):
        entry = items[cast.accesses[name].pk]
        assert entry["inherited_from"] is None
        assert entry["role"] == name
        assert entry["user"] == {
            "id": str(cast[name].pk),
            "email": cast[name].email,
            "full_name": cast[name].full_name,
        }
        assert entry["team"] is None
        assert entry["abilities"] == {"update": True, "delete": True}
    # Closest first: the folder's own grants, then the workspace's.
    assert body["items"][-1]["id"] == cast.accesses["owner"].pk


def test_list_of_a_file_shows_grants_of_every_folder_above(api, cast):
    guest = UserFactory()
    direct = grant(cast.file, Role.EDITOR, user=guest)

    response = api(cast["administrator"]).get(url(cast.file))

    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [item["id"] for item in items][0] == direct.pk
    assert items[0]["inherited_from"] is None
    assert items[0]["abilities"] == {"update": True, "delete": True}
    inherited = {item["id"]: item["inherited_from"] for item in items[1:]}
    assert inherited == {
        cast.accesses["administrator"].pk: str(cast.folder.pk),
        cast.accesses["editor"].pk: str(cast.folder.pk),
        cast.accesses["reader"].pk: str(cast.folder.pk),
        cast.accesses["owner"].pk: str(cast.workspace.pk),
    }
    assert all(item["abilities"] == {"update": False, "delete": False} for item in items[1:])


def test_list_abilities_of_a_reader_only_allow_leaving(api, cast):
    items = {i["id"]: i for i in api(cast["reader"]).get(url(cast.folder)).json()["items"]}
    assert items[cast.accesses["reader"].pk]["abilities"] == {"update": False, "delete": True}
    assert items[cast.accesses["editor"].pk]["abilities"] == {"update": False, "delete": False}


def test_link_only_visitor_sees_only_managers(api, cast):
    Item.objects.filter(pk=cast.folder.pk).update(link_reach=LinkReach.AUTHENTICATED)
    response = api(cast["stranger"]).get(url(cast.file))
    assert response.status_code == 200, response.content
    roles = sorted(item["role"] for item in response.json()["items"])
    assert roles == ["administrator", "owner"]


def test_list_query_count_does_not_grow_with_grants(api, cast):
    def count_queries():
        client = api(cast["owner"])
        client.get(url(cast.file))  # warm-up: the token's first use is recorded
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(cast.file))
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    few, count_few = count_queries()
    for _ in range(10):
        grant(cast.file, Role.READER, user=UserFactory())
        grant(cast.folder, Role.EDITOR, team=TeamFactory())
    many, count_many = count_queries()
    assert count_many == count_few + 20
    assert many == few


# --- grant ------------------------------------------------------------------------------


def test_grant_to_a_user_reaches_the_items_below(api, cast):
    newcomer = UserFactory()
    with pytest.raises(NotFound):
        access_item(newcomer, cast.file.pk)

    response = api(cast["owner"]).post(
        url(cast.folder), json={"user": str(newcomer.pk), "role": "editor"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "editor"
    assert body["user"]["id"] == str(newcomer.pk)
    assert body["team"] is None
    assert body["inherited_from"] is None
    assert body["abilities"] == {"update": True, "delete": True}
    assert ItemAccess.objects.get(resource=cast.folder, user=newcomer).role == Role.EDITOR
    assert access_item(newcomer, cast.file.pk).effective_role == Role.EDITOR


def test_grant_to_a_team_reaches_its_members(api, cast):
    team = TeamFactory()
    member = TeamMembershipFactory(team=team).user

    response = api(cast["administrator"]).post(
        url(cast.folder), json={"team": str(team.pk), "role": "reader"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["team"] == {"id": str(team.pk), "name": team.name}
    assert response.json()["user"] is None
    listed = api(member).get(url(cast.file))
    assert listed.status_code == 200
    entry = next(i for i in listed.json()["items"] if i["team"])
    assert entry["inherited_from"] == str(cast.folder.pk)
    assert access_item(member, cast.file.pk).effective_role == Role.READER


def test_grant_duplicate_is_conflict(api, cast):
    response = api(cast["owner"]).post(
        url(cast.folder), json={"user": str(cast["reader"].pk), "role": "editor"}
    )
    assert_error(response, 409, "access_exists")
    assert ItemAccess.objects.get(pk=cast.accesses["reader"].pk).role == Role.READER


def test_grant_above_own_role_is_denied(api, cast):
    newcomer = UserFactory()
    response = api(cast["administrator"]).post(
        url(cast.folder), json={"user": str(newcomer.pk), "role": "owner"}
    )
    assert_error(response, 403, "permission_denied")
    assert not ItemAccess.objects.filter(user=newcomer).exists()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"user": str(uuid.UUID(int=0)), "role": "reader"}, 404, "not_found"),
        ({"team": "not-a-uuid", "role": "reader"}, 404, "not_found"),
        ({"role": "reader"}, 422, "validation_error"),
        ({"user": "USER", "role": "boss"}, 422, "validation_error"),
        ({"user": "USER"}, 422, "validation_error"),
    ],
)
def test_grant_bad_input(api, cast, payload, status, code):
    newcomer = UserFactory()
    payload = {k: str(newcomer.pk) if v == "USER" else v for k, v in payload.items()}
    before = ItemAccess.objects.count()
    error = assert_error(api(cast["owner"]).post(url(cast.folder), json=payload), status, code)
    assert ItemAccess.objects.count() == before
    if status == 404:
        assert error["details"]["field"] in payload


# --- change -----------------------------------------------------------------------------


def test_change_a_role(api, cast):
    access = cast.accesses["editor"]
    response = api(cast["administrator"]).patch(url(cast.folder, access.pk), json={"role": "reader"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "reader"
    assert response.json()["abilities"] == {"update": True, "delete": True}
    access.refresh_from_db()
    assert access.role == Role.READER


def test_change_an_inherited_access_points_to_its_folder(api, cast):
    access = cast.accesses["editor"]
    error = assert_error(
        api(cast["owner"]).patch(url(cast.file, access.pk), json={"role": "reader"}),
        409,
        "access_inherited",
    )
    assert error["details"] == {"item": str(cast.folder.pk)}
    access.refresh_from_db()
    assert access.role == Role.EDITOR


def test_change_with_an_unknown_role_is_invalid(api, cast):
    access = cast.accesses["editor"]
    response = api(cast["owner"]).patch(url(cast.folder, access.pk), json={"role": "chief"})
    assert_error(response, 422, "validation_error")
    access.refresh_from_db()
    assert access.role == Role.EDITOR


def test_administrator_cannot_change_an_owner(api, cast):
    second_owner = grant(cast.folder, Role.OWNER, user=UserFactory())
    response = api(cast["administrator"]).patch(
        url(cast.folder, second_owner.pk), json={"role": "editor"}
    )
    assert_error(response, 403, "permission_denied")
    second_owner.refresh_from_db()
    assert second_owner.role == Role.OWNER


# --- revoke and leave -------------------------------------------------------------------


def test_revoke_someone_else(api, cast):
    access = cast.accesses["editor"]
    assert api(cast["administrator"]).delete(url(cast.folder, access.pk)).status_code == 204
    assert not ItemAccess.objects.filter(pk=access.pk).exists()
    assert_error(api(cast["editor"]).get(url(cast.file)), 404, "not_found")


@pytest.mark.parametrize("name", ["reader", "editor", "administrator"])
def test_leave(api, cast, name):
    access = cast.accesses[name]
    assert api(cast[name]).delete(url(cast.folder, access.pk)).status_code == 204
    assert not ItemAccess.objects.filter(pk=access.pk).exists()
    assert_error(api(cast[name]).get(url(cast.folder)), 404, "not_found")


def test_last_owner_cannot_leave_nor_be_downgraded(api, cast):
    access = cast.accesses["owner"]
    owner = api(cast["owner"])
    assert_error(owner.delete(url(cast.workspace, access.pk)), 409, "last_owner")
    assert_error(
        owner.patch(url(cast.workspace, access.pk), json={"role": "administrator"}),
        409,
        "last_owner",
    )
    access.refresh_from_db()
    assert access.role == Role.OWNER
    # Not offered either.
    listed = {i["id"]: i for i in owner.get(url(cast.workspace)).json()["items"]}
    assert listed[access.pk]["abilities"] == {"update": False, "delete": False}


def test_an_owner_may_leave_once_another_owner_exists(api, cast):
    grant(cast.workspace, Role.OWNER, user=UserFactory())
    access = cast.accesses["owner"]
    assert api(cast["owner"]).delete(url(cast.workspace, access.pk)).status_code == 204
    assert not ItemAccess.objects.filter(pk=access.pk).exists()


# --- who may do what --------------------------------------------------------------------

ACTORS = ["reader", "editor", "administrator", "owner", "stranger", "anonymous"]

#: Expected status per action and actor: managers (administrator, owner) manage; readers
#: and editors see the list; a stranger is told nothing exists; anonymous must sign in.
EXPECTED = {
    "list": dict(zip(ACTORS, [200, 200, 200, 200, 404, 401], strict=True)),
    "grant": dict(zip(ACTORS, [403, 403, 201, 201, 404, 401], strict=True)),
    "change": dict(zip(ACTORS, [403, 403, 200, 200, 404, 401], strict=True)),
    "revoke": dict(zip(ACTORS, [403, 403, 204, 204, 404, 401], strict=True)),
}
ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


def _perform(client, cast, action, target, newcomer):
    if action == "list":
        return client.get(url(cast.folder))
    if action == "grant":
        return client.post(url(cast.folder), {"user": str(newcomer.pk), "role": "reader"})
    if action == "change":
        return client.patch(url(cast.folder, target.pk), {"role": "commenter"})
    return client.delete(url(cast.folder, target.pk))


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("name", ACTORS)
def test_role_table(api, client, cast, name, action):
    # The target of change/revoke is a third party's grant, so nobody acts on themselves.
    target = grant(cast.folder, Role.READER, user=UserFactory())
    newcomer = UserFactory()
    expected = EXPECTED[action][name]

    response = _perform(as_actor(api, client, cast, name), cast, action, target, newcomer)

    if expected >= 400:
        assert_error(response, expected, ERROR_CODES[expected])
    else:
        assert response.status_code == expected, response.content
    target_after = ItemAccess.objects.filter(pk=target.pk).first()
    granted = ItemAccess.objects.filter(user=newcomer).exists()
    if action == "grant":
        assert granted == (expected == 201)
    if action == "change":
        assert target_after.role == (Role.COMMENTER if expected == 200 else Role.READER)
    if action == "revoke":
        assert (target_after is None) == (expected == 204)


# --- not found --------------------------------------------------------------------------


@pytest.mark.parametrize("item_id", ["nope", str(uuid.UUID(int=0)), "1"])
def test_unknown_item_is_not_found(api, user, item_id):
    client = api(user)
    base = f"{API}/items/{item_id}/accesses/"
    assert_error(client.get(base), 404, "not_found")
    assert_error(client.post(base, json={"user": str(user.pk), "role": "reader"}), 404, "not_found")
    assert_error(client.patch(f"{base}1", json={"role": "reader"}), 404, "not_found")
    assert_error(client.delete(f"{base}1"), 404, "not_found")


@pytest.mark.parametrize("access_id", ["999999999", "abc", "-1"])
def test_unknown_access_is_not_found(api, cast, access_id):
    before = ItemAccess.objects.count()
    owner = api(cast["owner"])
    assert_error(owner.patch(url(cast.folder, access_id), json={"role": "reader"}), 404, "not_found")
    assert_error(owner.delete(url(cast.folder, access_id)), 404, "not_found")
    assert ItemAccess.objects.count() == before


def test_access_of_another_item_is_not_found(api, cast):
    elsewhere = make_item(make_workspace(UserFactory()))
    foreign = grant(elsewhere, Role.READER, user=UserFactory())
    owner = api(cast["owner"])
    assert_error(owner.patch(url(cast.folder, foreign.pk), json={"role": "editor"}), 404, "not_found")
    assert_error(owner.delete(url(cast.folder, foreign.pk)), 404, "not_found")
    assert ItemAccess.objects.get(pk=foreign.pk).role == Role.READER


def test_items_in_the_trash_are_not_found(api, cast):
    now = timezone.now()
    Item.objects.filter(pk=cast.folder.pk).update(deleted_at=now, ancestors_deleted_at=now)
    Item.objects.filter(pk=cast.file.pk).update(ancestors_deleted_at=now)
    owner = api(cast["owner"])
    assert_error(owner.get(url(cast.folder)), 404, "not_found")
    assert_error(
        owner.post(url(cast.file), json={"user": str(UserFactory().pk), "role": "reader"}),
        404,
        "not_found",
    )
    assert_error(owner.delete(url(cast.folder, cast.accesses["reader"].pk)), 404, "not_found")
