"""Role × action table over the document endpoints: who succeeds, and the exact denial
(404 when the document is invisible, 403 when visible but not allowed, 401 for anonymous
visitors on endpoints that need an account)."""

from __future__ import annotations

import pytest

from docs_app.models import Document
from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.conftest import API

pytestmark = pytest.mark.django_db

# actor kind → (effective role on the document or None, authenticated)
ACTORS = {
    "reader": (Role.READER, True),
    "commenter": (Role.COMMENTER, True),
    "editor": (Role.EDITOR, True),
    "administrator": (Role.ADMINISTRATOR, True),
    "owner": (Role.OWNER, True),
    "team_editor": (Role.EDITOR, True),
    "stranger": (None, True),
    "stranger_authenticated_link": (Role.READER, True),
    "anonymous_restricted": (None, False),
    "anonymous_authenticated_link": (None, False),
    "anonymous_public_link": (Role.READER, False),
}

# action → (minimum role, needs an account, (method, path template, json), success status)
ACTIONS = {
    "retrieve": (Role.READER, False, ("get", "{doc}", None), 200),
    "children": (Role.READER, False, ("get", "{doc}/children", None), 200),
    "tree": (Role.READER, False, ("get", "{doc}/tree", None), 200),
    "favorite": (Role.READER, True, ("put", "{doc}/favorite", {}), 204),
    "unfavorite": (Role.READER, True, ("delete", "{doc}/favorite", None), 204),
    "update_title": (Role.EDITOR, True, ("patch", "{doc}", {"title": "New"}), 200),
    "create_child": (Role.EDITOR, True, ("post", "", {"title": "c", "parent": "{doc}"}), 201),
    "duplicate": (Role.EDITOR, True, ("post", "{doc}/duplicate", {}), 201),
    "update_link": (Role.ADMINISTRATOR, True, ("patch", "{doc}", {"link_role": "commenter"}), 200),
    # Moves the grandchild up under the root: administrator on it, editor on the root.
    "move": (Role.ADMINISTRATOR, True, ("post", "{doc}/move", {"parent": "{root}"}), 200),
    "delete": (Role.ADMINISTRATOR, True, ("delete", "{doc}", None), 204),
    "hard_delete": (Role.OWNER, True, ("delete", "{doc}?hard=true", None), 204),
}


def _format(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _format(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def setup(make_document, grant, team_member, other_user):
    """The document under test is a grandchild: every role comes from its root."""
    root = make_document(owner=other_user, title="root")
    middle = make_document(parent=root, title="middle")
    doc = make_document(parent=middle, title="doc")

    def actor_for(kind):
        from tests.factories import UserFactory

        if kind.startswith("anonymous"):
            if kind == "anonymous_public_link":
                Document.objects.filter(pk=root.pk).update(link_reach="public")
            if kind == "anonymous_authenticated_link":
                Document.objects.filter(pk=root.pk).update(link_reach="authenticated")
            return None
        if kind == "owner":
            return other_user
        if kind == "team_editor":
            team, member = team_member()
            grant(root, team, Role.EDITOR)
            return member
        person = UserFactory()
        if kind == "stranger_authenticated_link":
            Document.objects.filter(pk=root.pk).update(link_reach="authenticated")
        elif kind != "stranger":
            grant(root, person, Role.from_slug(kind))
        return person

    return {"root": str(root.pk), "middle": str(middle.pk), "doc": str(doc.pk)}, actor_for


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("kind", ACTORS)
def test_role_action_table(api, client, setup, kind, action):
    ids, actor_for = setup
    role, authenticated = ACTORS[kind]
    minimum, needs_account, (method, template, payload), success = ACTIONS[action]
    person = actor_for(kind)
    path = API + _format(template, ids)
    caller = client if person is None else api(person)
    kwargs = {} if payload is None else {"json": _format(payload, ids)}
    if person is None and payload is not None:
        kwargs = {"data": _format(payload, ids), "content_type": "application/json"}

    response = getattr(caller, method)(path, **kwargs)

    if needs_account and not authenticated:
        assert_error(response, 401, "not_authenticated")
    elif role is None:
        assert_error(response, 404, "not_found")
    elif role < minimum:
        assert_error(response, 403, "permission_denied")
    else:
        assert response.status_code == success, response.content
