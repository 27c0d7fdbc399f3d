"""Effective role resolution: users, teams, inheritance, link reach — as a table of cases."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from suite.access.resolve import access_object, annotate_roles, effective_role, visible_to
from suite.access.roles import LinkReach, Perm, Role
from suite.errors import NotFound, PermissionDenied
from tests.access_app.models import Folder
from tests.factories import (
    FolderAccessFactory,
    FolderFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    """root / child / grandchild, plus an unrelated root."""
    root = FolderFactory(title="root")
    child = FolderFactory(title="child", parent=root)
    grandchild = FolderFactory(title="grandchild", parent=child)
    other = FolderFactory(title="other")
    return {"root": root, "child": child, "grandchild": grandchild, "other": other}


# Each case: grants as (principal, node, role), link settings as {node: (reach, role)},
# the actor ("alice", "anonymous"), and the expected role on each node.
CASES = [
    pytest.param(
        [], {}, "alice",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="nothing-granted",
    ),
    pytest.param(
        [("alice", "root", Role.EDITOR)], {}, "alice",
        {"root": Role.EDITOR, "child": Role.EDITOR, "grandchild": Role.EDITOR, "other": None},
        id="user-grant-inherited-down",
    ),
    pytest.param(
        [("alice", "child", Role.READER)], {}, "alice",
        {"root": None, "child": Role.READER, "grandchild": Role.READER, "other": None},
        id="grant-does-not-go-up",
    ),
    pytest.param(
        [("alice", "root", Role.READER), ("alice", "grandchild", Role.OWNER)], {}, "alice",
        {"root": Role.READER, "child": Role.READER, "grandchild": Role.OWNER, "other": None},
        id="max-of-own-and-inherited",
    ),
    pytest.param(
        [("alice", "root", Role.ADMINISTRATOR), ("alice", "child", Role.READER)], {}, "alice",
        {"root": Role.ADMINISTRATOR, "child": Role.ADMINISTRATOR, "grandchild": Role.ADMINISTRATOR, "other": None},
        id="lower-child-grant-does-not-reduce",
    ),
    pytest.param(
        [("team", "child", Role.COMMENTER)], {}, "alice",
        {"root": None, "child": Role.COMMENTER, "grandchild": Role.COMMENTER, "other": None},
        id="team-grant",
    ),
    pytest.param(
        [("team", "root", Role.EDITOR), ("alice", "child", Role.READER)], {}, "alice",
        {"root": Role.EDITOR, "child": Role.EDITOR, "grandchild": Role.EDITOR, "other": None},
        id="team-and-user-max",
    ),
    pytest.param(
        [("other_team", "root", Role.OWNER)], {}, "alice",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="other-team-grant-ignored",
    ),
    pytest.param(
        [("bob", "root", Role.OWNER)], {}, "alice",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="other-user-grant-ignored",
    ),
    pytest.param(
        [], {"root": (LinkReach.AUTHENTICATED, Role.READER)}, "alice",
        {"root": Role.READER, "child": Role.READER, "grandchild": Role.READER, "other": None},
        id="authenticated-link-inherited",
    ),
    pytest.param(
        [], {"root": (LinkReach.AUTHENTICATED, Role.EDITOR)}, "anonymous",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="authenticated-link-refuses-anonymous",
    ),
    pytest.param(
        [], {"child": (LinkReach.PUBLIC, Role.COMMENTER)}, "anonymous",
        {"root": None, "child": Role.COMMENTER, "grandchild": Role.COMMENTER, "other": None},
        id="public-link-for-anonymous",
    ),
    pytest.param(
        [], {"root": (LinkReach.PUBLIC, Role.READER), "grandchild": (LinkReach.AUTHENTICATED, Role.EDITOR)}, "alice",
        {"root": Role.READER, "child": Role.READER, "grandchild": Role.EDITOR, "other": None},
        id="most-permissive-link-of-self-and-ancestors",
    ),
    pytest.param(
        [], {"root": (LinkReach.RESTRICTED, Role.EDITOR)}, "alice",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="restricted-link-gives-nothing",
    ),
    pytest.param(
        [("alice", "child", Role.ADMINISTRATOR)], {"root": (LinkReach.PUBLIC, Role.EDITOR)}, "alice",
        {"root": Role.EDITOR, "child": Role.ADMINISTRATOR, "grandchild": Role.ADMINISTRATOR, "other": None},
        id="grant-and-link-max",
    ),
    pytest.param(
        [("alice", "root", Role.OWNER)], {}, "anonymous",
        {"root": None, "child": None, "grandchild": None, "other": None},
        id="anonymous-never-gets-grants",
    ),
]


@pytest.mark.parametrize(("grants", "links", "actor_name", "expected"), CASES)
def test_effective_role(tree, grants, links, actor_name, expected):
    # given
    alice, bob = UserFactory(), UserFactory()
    team, other_team = TeamFactory(), TeamFactory()
    TeamMembershipFactory(team=team, user=alice)
    TeamMembershipFactory(team=other_team, user=bob)
    principals = {"alice": {"user": alice}, "bob": {"user": bob}, "team": {"team": team}, "other_team": {"team": other_team}}
    for principal, node, role in grants:
        FolderAccessFactory(resource=tree[node], role=role, **principals[principal])
    for node, (reach, role) in links.items():
        Folder.objects.filter(pk=tree[node].pk).update(link_reach=reach, link_role=role)
    actor = alice if actor_name == "alice" else AnonymousUser()

    # when: one object at a time, and the whole table annotated in one query
    one_by_one = {name: effective_role(actor, Folder.objects.get(pk=node.pk)) for name, node in tree.items()}
    annotated = {f.title: f.effective_role for f in annotate_roles(Folder.objects.all(), actor)}

    # then
    assert one_by_one == expected
    assert annotated == expected
    visible = {f.title for f in visible_to(Folder.objects.all(), actor)}
    assert visible == {name for name, role in expected.items() if role is not None}


def test_visible_to_is_one_query_whatever_the_size(tree):
    alice = UserFactory()
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=alice)
    FolderAccessFactory(resource=tree["root"], user=alice, role=Role.READER)
    for _ in range(30):
        FolderAccessFactory(resource=FolderFactory(parent=tree["child"]), team=team, role=Role.EDITOR)
    with CaptureQueriesContext(connection) as queries:
        folders = list(visible_to(Folder.objects.all(), alice))
    assert len(queries) == 1
    assert len(folders) == 33
    assert {f.effective_role for f in folders} == {Role.READER, Role.EDITOR}


def test_access_object_same_404_for_missing_and_forbidden(tree):
    alice = UserFactory()
    with pytest.raises(NotFound) as missing:
        access_object(Folder.objects.all(), alice, "9b2f5c1e-0000-4000-8000-000000000000")
    with pytest.raises(NotFound) as forbidden:
        access_object(Folder.objects.all(), alice, tree["root"].pk)
    with pytest.raises(NotFound):
        access_object(Folder.objects.all(), alice, "not-a-uuid")
    assert missing.value.code == forbidden.value.code == "not_found"
    assert missing.value.message == forbidden.value.message


def test_access_object_403_when_visible_but_role_too_low(tree):
    alice = UserFactory()
    FolderAccessFactory(resource=tree["root"], user=alice, role=Role.READER)
    folder = access_object(Folder.objects.all(), alice, tree["child"].pk, need=Perm.VIEW)
    assert folder.effective_role == Role.READER
    with pytest.raises(PermissionDenied):
        access_object(Folder.objects.all(), alice, tree["child"].pk, need=Perm.EDIT)
    with pytest.raises(NotFound):
        access_object(Folder.objects.all(), alice, tree["child"].pk, need=Perm.EDIT, discoverable=False)


def test_leaving_a_team_removes_its_access(tree):
    alice = UserFactory()
    team = TeamFactory()
    membership = TeamMembershipFactory(team=team, user=alice)
    FolderAccessFactory(resource=tree["root"], team=team, role=Role.EDITOR)
    assert effective_role(alice, Folder.objects.get(pk=tree["grandchild"].pk)) == Role.EDITOR
    membership.delete()
    assert effective_role(alice, Folder.objects.get(pk=tree["grandchild"].pk)) is None


def test_inactive_user_has_no_django_permission(tree):
    alice = UserFactory(is_active=False)
    FolderAccessFactory(resource=tree["root"], user=alice, role=Role.OWNER)
    assert not alice.has_perm("access_app.view_folder", tree["root"])
