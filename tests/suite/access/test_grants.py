"""The sharing rules every app inherits from suite.access.grants."""

from __future__ import annotations

import pytest

from suite.access.grants import access_grant, access_revoke, access_update, link_update, parse_role
from suite.access.roles import LinkReach, Role
from suite.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from suite.identity.models import AuditEvent
from tests.access_app.models import Folder, FolderAccess
from tests.factories import FolderAccessFactory, FolderFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder():
    return FolderFactory()


def grant(folder, role, user=None):
    user = user or UserFactory()
    FolderAccessFactory(resource=folder, user=user, role=role)
    return user


@pytest.mark.parametrize("actor_role", [Role.READER, Role.COMMENTER, Role.EDITOR])
def test_only_administrators_and_owners_manage_accesses(folder, actor_role):
    actor = grant(folder, actor_role)
    with pytest.raises(PermissionDenied):
        access_grant(actor=actor, resource=folder, user=UserFactory(), role=Role.READER)
    assert FolderAccess.objects.filter(resource=folder).count() == 1


def test_stranger_gets_not_found_not_forbidden(folder):
    with pytest.raises(NotFound):
        access_grant(actor=UserFactory(), resource=folder, user=UserFactory(), role=Role.READER)


@pytest.mark.parametrize(
    ("actor_role", "granted", "allowed"),
    [
        (Role.ADMINISTRATOR, Role.READER, True),
        (Role.ADMINISTRATOR, Role.ADMINISTRATOR, True),
        (Role.ADMINISTRATOR, Role.OWNER, False),
        (Role.OWNER, Role.OWNER, True),
    ],
)
def test_nobody_grants_above_their_own_role(folder, actor_role, granted, allowed):
    actor = grant(folder, actor_role)
    target = UserFactory()
    if allowed:
        access = access_grant(actor=actor, resource=folder, user=target, role=granted)
        assert access.role == granted
    else:
        with pytest.raises(PermissionDenied):
            access_grant(actor=actor, resource=folder, user=target, role=granted)
        assert not FolderAccess.objects.filter(user=target).exists()


def test_grant_to_team_and_audit_and_duplicate(folder):
    owner = grant(folder, Role.OWNER)
    team = TeamFactory()
    access = access_grant(actor=owner, resource=folder, team=team, role=Role.EDITOR)
    assert access.team_id == team.pk and access.user_id is None
    event = AuditEvent.objects.get(action="access_granted")
    assert event.target_id == str(folder.pk) and event.data["principal"] == f"team:{team.pk}"
    with pytest.raises(Conflict) as duplicate:
        access_grant(actor=owner, resource=folder, team=team, role=Role.READER)
    assert duplicate.value.code == "access_exists"
    assert FolderAccess.objects.get(team=team).role == Role.EDITOR


def test_grant_needs_exactly_one_principal(folder):
    owner = grant(folder, Role.OWNER)
    with pytest.raises(ValidationFailed):
        access_grant(actor=owner, resource=folder, role=Role.READER)
    with pytest.raises(ValidationFailed):
        access_grant(actor=owner, resource=folder, user=UserFactory(), team=TeamFactory(), role=Role.READER)


def test_administrator_cannot_change_or_remove_an_owner(folder):
    admin = grant(folder, Role.ADMINISTRATOR)
    owner = grant(folder, Role.OWNER)
    grant(folder, Role.OWNER)  # a second owner, so "last owner" is not what refuses
    owner_access = FolderAccess.objects.get(user=owner)
    with pytest.raises(PermissionDenied):
        access_update(actor=admin, access=owner_access, role=Role.READER)
    with pytest.raises(PermissionDenied):
        access_revoke(actor=admin, access=owner_access)
    assert FolderAccess.objects.get(user=owner).role == Role.OWNER


def test_last_owner_cannot_leave_be_downgraded_or_removed(folder):
    owner = grant(folder, Role.OWNER)
    access = FolderAccess.objects.get(user=owner)
    with pytest.raises(Conflict) as leave:
        access_revoke(actor=owner, access=access)
    assert leave.value.code == "last_owner"
    with pytest.raises(Conflict):
        access_update(actor=owner, access=access, role=Role.ADMINISTRATOR)
    assert FolderAccess.objects.get(user=owner).role == Role.OWNER


def test_owner_inherited_from_ancestor_counts(folder):
    owner = grant(folder, Role.OWNER)
    child = FolderFactory(parent=folder)
    child_owner = grant(child, Role.OWNER)
    access_revoke(actor=owner, access=FolderAccess.objects.get(user=child_owner))
    assert not FolderAccess.objects.filter(user=child_owner).exists()


def test_anyone_may_leave(folder):
    grant(folder, Role.OWNER)
    reader = grant(folder, Role.READER)
    access_revoke(actor=reader, access=FolderAccess.objects.get(user=reader))
    assert not FolderAccess.objects.filter(user=reader).exists()


def test_update_role_audited(folder):
    owner = grant(folder, Role.OWNER)
    editor = grant(folder, Role.EDITOR)
    access_update(actor=owner, access=FolderAccess.objects.get(user=editor), role=Role.READER)
    assert FolderAccess.objects.get(user=editor).role == Role.READER
    event = AuditEvent.objects.get(action="access_changed")
    assert event.data == {"principal": f"user:{editor.pk}", "role": "reader", "previous_role": "editor"}


def test_link_update_rules(folder):
    admin = grant(folder, Role.ADMINISTRATOR)
    editor = grant(folder, Role.EDITOR)
    with pytest.raises(PermissionDenied):
        link_update(actor=editor, resource=folder, link_reach=LinkReach.PUBLIC)
    with pytest.raises(ValidationFailed):
        link_update(actor=admin, resource=folder, link_reach="everyone")
    with pytest.raises(ValidationFailed):
        link_update(actor=admin, resource=folder, link_role="owner")
    link_update(actor=admin, resource=folder, link_reach=LinkReach.AUTHENTICATED, link_role="editor")
    folder = Folder.objects.get(pk=folder.pk)
    assert (folder.link_reach, folder.link_role) == (LinkReach.AUTHENTICATED, Role.EDITOR)


def test_parse_role_rejects_unknown():
    assert parse_role("editor") == Role.EDITOR
    with pytest.raises(ValidationFailed) as error:
        parse_role("superuser")
    assert error.value.details["allowed"] == ["reader", "commenter", "editor", "administrator", "owner"]
