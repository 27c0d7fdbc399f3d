"""``user.has_perm(perm, obj)`` answers from roles (RoleBackend) and from django-guardian's
explicit object permissions, consistently with the access layer."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from suite.access.roles import LinkReach, Role
from tests.factories import (
    FolderAccessFactory,
    FolderFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

VERBS = ["view", "comment", "change", "share", "delete", "destroy"]
EXPECTED = {
    Role.READER: {"view"},
    Role.COMMENTER: {"view", "comment"},
    Role.EDITOR: {"view", "comment", "change"},
    Role.ADMINISTRATOR: {"view", "comment", "change", "share", "delete"},
    Role.OWNER: set(VERBS),
}


@pytest.mark.parametrize("role", list(Role))
def test_has_perm_follows_the_role(role):
    user = UserFactory()
    parent = FolderFactory()
    child = FolderFactory(parent=parent)
    FolderAccessFactory(resource=parent, user=user, role=role)
    granted = {verb for verb in VERBS if user.has_perm(f"access_app.{verb}_folder", child)}
    assert granted == EXPECTED[role]


def test_has_perm_through_link_reach():
    user = UserFactory()
    folder = FolderFactory(link_reach=LinkReach.AUTHENTICATED, link_role=Role.EDITOR)
    assert user.has_perm("access_app.change_folder", folder)
    assert not user.has_perm("access_app.share_folder", folder)


def test_has_perm_ignores_other_models_permissions():
    user = UserFactory()
    folder = FolderFactory()
    FolderAccessFactory(resource=folder, user=user, role=Role.OWNER)
    assert not user.has_perm("access_app.view_folderaccess", folder)


def test_guardian_object_permission_for_a_team_group():
    """An explicit guardian permission given to a team's group is honoured by has_perm."""
    user = UserFactory()
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=user)
    user.groups.add(team.group)
    folder = FolderFactory()
    assert not user.has_perm("access_app.change_folder", folder)
    assign_perm("access_app.change_folder", team.group, folder)
    user = type(user).objects.get(pk=user.pk)  # fresh permission caches
    assert user.has_perm("access_app.change_folder", folder)
    assert not user.has_perm("access_app.delete_folder", folder)


def test_get_all_permissions_lists_role_permissions():
    user = UserFactory()
    folder = FolderFactory()
    FolderAccessFactory(resource=folder, user=user, role=Role.COMMENTER)
    assert {"access_app.view_folder", "access_app.comment_folder"} <= user.get_all_permissions(folder)
    assert "access_app.change_folder" not in user.get_all_permissions(folder)
