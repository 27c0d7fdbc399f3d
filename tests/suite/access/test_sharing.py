"""The platform's sharing services, selectors and endpoints on a resource of a third kind
(the test app's folders): nothing in them is specific to documents or drive items."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from ninja import NinjaAPI

from suite.access.api import sharing_router
from suite.access.resolve import access_object
from suite.access.roles import LinkReach, Perm, Role
from suite.access.sharing import (
    find_access,
    find_principal,
    grant_change,
    grant_create,
    grant_delete,
    resource_accesses,
)
from suite.errors import Conflict, NotFound
from suite.identity.models import Team, User
from tests.access_app.models import Folder, FolderAccess
from tests.factories import FolderAccessFactory, FolderFactory, UserFactory

pytestmark = pytest.mark.django_db


def fetch_folder(actor, folder_id, *, need=Perm.VIEW):
    return access_object(Folder.objects.all(), actor, folder_id, need=need)


@pytest.fixture
def tree():
    """A folder owned by ``owner`` with a child folder."""
    owner = UserFactory()
    parent = FolderFactory()
    FolderAccessFactory(resource=parent, user=owner, role=Role.OWNER)
    return owner, parent, FolderFactory(parent=parent)


def test_find_access_on_an_ancestor_names_the_ancestor(tree):
    owner, parent, child = tree
    access = FolderAccess.objects.get(resource=parent, user=owner)
    with pytest.raises(Conflict) as raised:
        find_access(child, access.pk)
    assert raised.value.code == "access_inherited"
    assert raised.value.details == {"folder": str(parent.pk)}
    assert "inherited" in raised.value.message
    from django.utils import translation

    with translation.override("fr"), pytest.raises(Conflict) as in_french:
        find_access(child, access.pk)
    assert "hérité" in in_french.value.message


@pytest.mark.parametrize("access_id", ["abc", "999999999", "", "FOREIGN"])
def test_find_access_unknown_malformed_or_foreign_is_not_found(tree, access_id):
    _, parent, _ = tree
    if access_id == "FOREIGN":
        access_id = FolderAccessFactory(resource=FolderFactory(), user=UserFactory()).pk
    with pytest.raises(NotFound):
        find_access(parent, access_id)


@pytest.mark.parametrize(("model", "field"), [(User, "user"), (Team, "team")])
@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_find_principal_names_the_wrong_field(model, field, value):
    with pytest.raises(NotFound) as raised:
        find_principal(model, value, field)
    assert raised.value.details == {"field": field, "id": value}


def test_grant_change_and_delete_on_any_resource(tree):
    owner, parent, child = tree
    guest = UserFactory()
    resource = fetch_folder(owner, child.pk, need=Perm.SHARE)

    access = grant_create(actor=owner, resource=resource, role="editor", user_id=str(guest.pk))
    assert isinstance(access, FolderAccess) and access.resource_id == child.pk
    grant_change(actor=owner, resource=resource, access_id=access.pk, role="reader")
    assert FolderAccess.objects.get(pk=access.pk).role == Role.READER
    grant_delete(actor=owner, resource=resource, access_id=access.pk)
    assert not FolderAccess.objects.filter(pk=access.pk).exists()


def test_anonymous_visitor_of_a_public_link_sees_only_managers(tree):
    owner, parent, child = tree
    FolderAccessFactory(resource=child, user=UserFactory(), role=Role.EDITOR)
    Folder.objects.filter(pk=parent.pk).update(link_reach=LinkReach.PUBLIC)
    visitor = AnonymousUser()

    rows = list(resource_accesses(fetch_folder(visitor, child.pk), visitor))

    assert [(row.user_id, row.role) for row in rows] == [(owner.pk, Role.OWNER)]
    assert rows[0].inherited_from == parent.pk
    assert not rows[0].can_update and not rows[0].can_delete


def test_router_names_the_path_parameter_and_operations_after_the_app():
    api = NinjaAPI(urls_namespace="sharing-test")
    api.add_router("/folders/", sharing_router(fetch=fetch_folder, path_param="folder_id", tags=["t"]))
    api.add_router(
        "/others/",
        sharing_router(fetch=fetch_folder, path_param="other_id", tags=["t"], module="elsewhere"),
    )

    paths = api.get_openapi_schema(path_prefix="/api/")["paths"]

    collection = paths["/api/folders/{folder_id}/accesses/"]
    member = paths["/api/folders/{folder_id}/accesses/{access_id}"]
    assert set(collection) == {"get", "post"} and set(member) == {"patch", "delete"}
    assert [p["name"] for p in member["patch"]["parameters"]] == ["folder_id", "access_id"]
    assert {p["name"] for p in collection["get"]["parameters"]} == {"folder_id", "limit", "offset"}
    assert collection["get"]["operationId"] == "tests_suite_access_test_sharing_access_list"
    others = paths["/api/others/{other_id}/accesses/{access_id}"]
    assert others["delete"]["operationId"] == "elsewhere_access_delete"
