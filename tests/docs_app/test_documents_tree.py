"""Subtree operations: inheritance, move, duplicate, trash, restore, hard delete, purge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from docs_app.models import Document, DocumentAccess
from docs_app.tasks import purge_trash
from suite.access.models import PATH_STEP
from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.conftest import API

pytestmark = pytest.mark.django_db


def assert_tree_consistent():
    rows = list(Document.objects.values_list("path", "depth"))
    paths = {path for path, _ in rows}
    assert len(paths) == len(rows), "duplicate paths"
    for path, depth in rows:
        assert len(path) == depth * PATH_STEP, path
        if depth > 1:
            assert path[:-PATH_STEP] in paths, f"orphan {path}"


@pytest.fixture
def tree(user, make_document):
    """root ─ a ─ a1 ─ a11 ; root ─ b ; other root ``elsewhere``."""
    root = make_document(owner=user, title="root")
    a = make_document(parent=root, title="a")
    a1 = make_document(parent=a, title="a1")
    a11 = make_document(parent=a1, title="a11")
    b = make_document(parent=root, title="b")
    elsewhere = make_document(owner=user, title="elsewhere")
    return {d.title: d for d in (root, a, a1, a11, b, elsewhere)}


def fresh(document):
    return Document.objects.get(pk=document.pk)


def test_role_inherited_through_four_levels(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.COMMENTER)
    grant(tree["a1"], other_user, Role.EDITOR)

    client = api(other_user)
    assert client.get(f"{API}{tree['a'].pk}").json()["role"] == "commenter"
    assert client.get(f"{API}{tree['a11'].pk}").json()["role"] == "editor"
    assert client.get(f"{API}{tree['a11'].pk}").json()["abilities"]["update"] is True


def test_link_reach_inherited_by_descendants(client, tree):
    Document.objects.filter(pk=tree["a"].pk).update(link_reach="public", link_role=Role.COMMENTER)

    assert client.get(f"{API}{tree['a11'].pk}").json()["role"] == "commenter"
    assert_error(client.get(f"{API}{tree['b'].pk}"), 404, "not_found")


# --- children and tree -------------------------------------------------------------------------


def test_children_in_position_order(api, user, tree):
    Document.objects.filter(pk=tree["b"].pk).update(position=-5)

    body = api(user).get(f"{API}{tree['root'].pk}/children").json()

    assert body["count"] == 2
    assert [item["title"] for item in body["items"]] == ["b", "a"]
    assert body["items"][1]["nb_children"] == 1


def test_children_of_invisible_document_is_404(api, other_user, tree):
    assert_error(api(other_user).get(f"{API}{tree['root'].pk}/children"), 404, "not_found")
    assert_error(api(other_user).get(f"{API}x/children"), 404, "not_found")


def test_tree_nests_ancestors_siblings_and_children(api, user, tree):
    body = api(user).get(f"{API}{tree['a1'].pk}/tree").json()

    assert [node["title"] for node in body] == ["root"]
    level2 = body[0]["children"]
    assert [node["title"] for node in level2] == ["a", "b"]
    assert [node["title"] for node in level2[0]["children"]] == ["a1"]
    assert [node["title"] for node in level2[0]["children"][0]["children"]] == ["a11"]


def test_tree_only_shows_visible_part(api, other_user, tree, grant):
    grant(tree["a1"], other_user, Role.READER)

    body = api(other_user).get(f"{API}{tree['a11'].pk}/tree").json()

    assert [node["title"] for node in body] == ["a1"]
    assert [node["title"] for node in body[0]["children"]] == ["a11"]


def test_tree_invisible_is_404(api, other_user, tree):
    assert_error(api(other_user).get(f"{API}{tree['a1'].pk}/tree"), 404, "not_found")


# --- move --------------------------------------------------------------------------------------


def test_move_subtree_rewrites_paths_only_inside(api, user, tree):
    untouched = {d.pk: (d.path, d.depth) for d in Document.objects.exclude(path__startswith=tree["a"].path)}

    response = api(user).post(f"{API}{tree['a'].pk}/move", json={"parent": str(tree["elsewhere"].pk)})

    assert response.status_code == 200, response.content
    assert response.json()["parent"] == str(tree["elsewhere"].pk)
    a, a1, a11 = fresh(tree["a"]), fresh(tree["a1"]), fresh(tree["a11"])
    assert a.path.startswith(tree["elsewhere"].path) and a.depth == 2
    assert a1.path.startswith(a.path) and a1.depth == 3
    assert a11.path.startswith(a1.path) and a11.depth == 4
    assert {d.pk: (d.path, d.depth) for d in Document.objects.exclude(pk__in=[a.pk, a1.pk, a11.pk])} == untouched
    assert_tree_consistent()


def test_move_before_and_after_sibling(api, user, tree, make_document):
    c = make_document(parent=tree["root"], title="c")
    client = api(user)

    client.post(f"{API}{c.pk}/move", json={"parent": str(tree["root"].pk), "before": str(tree["a"].pk)})
    titles = [i["title"] for i in client.get(f"{API}{tree['root'].pk}/children").json()["items"]]
    assert titles == ["c", "a", "b"]

    client.post(f"{API}{c.pk}/move", json={"parent": str(tree["root"].pk), "after": str(tree["a"].pk)})
    titles = [i["title"] for i in client.get(f"{API}{tree['root'].pk}/children").json()["items"]]
    assert titles == ["a", "c", "b"]


def test_move_repeatedly_between_same_siblings_keeps_order(api, user, tree, make_document):
    c = make_document(parent=tree["root"], title="c")
    client = api(user)
    for _ in range(60):  # exhausts float midpoints: siblings get renumbered
        client.post(f"{API}{c.pk}/move", json={"parent": str(tree["root"].pk), "after": str(tree["a"].pk)})
        client.post(f"{API}{tree['b'].pk}/move", json={"parent": str(tree["root"].pk), "after": str(tree["a"].pk)})
    titles = [i["title"] for i in client.get(f"{API}{tree['root'].pk}/children").json()["items"]]
    assert titles == ["a", "b", "c"]


@pytest.mark.parametrize("target", ["a", "a1", "a11"])
def test_move_into_own_subtree_refused(api, user, tree, target):
    before = list(Document.objects.values_list("pk", "path", "depth"))

    response = api(user).post(f"{API}{tree['a'].pk}/move", json={"parent": str(tree[target].pk)})

    assert_error(response, 400, "invalid_move")
    assert list(Document.objects.values_list("pk", "path", "depth")) == before


def test_move_bad_sibling_refused(api, user, tree):
    response = api(user).post(
        f"{API}{tree['b'].pk}/move", json={"parent": str(tree["root"].pk), "after": str(tree["a1"].pk)}
    )
    assert_error(response, 400, "invalid_move")
    response = api(user).post(
        f"{API}{tree['b'].pk}/move",
        json={"parent": str(tree["root"].pk), "after": str(tree["a"].pk), "before": str(tree["a"].pk)},
    )
    assert_error(response, 400, "invalid_move")


def test_move_to_root_requires_owner_and_grants_owner(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.ADMINISTRATOR)
    assert_error(api(other_user).post(f"{API}{tree['a'].pk}/move", json={"parent": None}), 403, "permission_denied")

    DocumentAccess.objects.filter(user=other_user).update(role=Role.OWNER)
    response = api(other_user).post(f"{API}{tree['a'].pk}/move", json={"parent": None})

    assert response.status_code == 200, response.content
    assert response.json()["depth"] == 1 and response.json()["role"] == "owner"
    assert DocumentAccess.objects.filter(resource=tree["a"], user=other_user, role=Role.OWNER).exists()
    assert fresh(tree["a11"]).depth == 3
    assert_tree_consistent()


def test_move_needs_editor_on_target(api, user, other_user, tree, grant, make_document):
    grant(tree["root"], other_user, Role.ADMINISTRATOR)
    target = make_document(owner=user, title="target")
    grant(target, other_user, Role.COMMENTER)

    response = api(other_user).post(f"{API}{tree['a'].pk}/move", json={"parent": str(target.pk)})

    assert_error(response, 403, "permission_denied")
    assert fresh(tree["a"]).path == tree["a"].path


def test_move_by_editor_refused(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.EDITOR)
    response = api(other_user).post(f"{API}{tree['a'].pk}/move", json={"parent": str(tree["b"].pk)})
    assert_error(response, 403, "permission_denied")


# --- duplicate ---------------------------------------------------------------------------------


def test_duplicate_with_descendants(api, user, tree):
    response = api(user).post(f"{API}{tree['a'].pk}/duplicate", json={"with_descendants": True})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["parent"] == str(tree["root"].pk) and body["depth"] == 2
    assert body["title"] == "Copy of a"
    copy = Document.objects.get(pk=body["id"])
    copied = list(Document.objects.filter(path__startswith=copy.path).order_by("path"))
    assert [(d.title, d.depth) for d in copied] == [("Copy of a", 2), ("a1", 3), ("a11", 4)]
    assert not DocumentAccess.objects.filter(resource__in=copied).exists()
    titles = [i["title"] for i in api(user).get(f"{API}{tree['root'].pk}/children").json()["items"]]
    assert titles == ["a", "Copy of a", "b"]
    assert_tree_consistent()


def test_duplicate_without_descendants(api, user, tree):
    body = api(user).post(f"{API}{tree['a'].pk}/duplicate", json={}).json()
    assert body["nb_children"] == 0
    assert Document.objects.count() == 7


def test_duplicate_root_gives_duplicator_owner(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.READER)

    response = api(other_user).post(f"{API}{tree['root'].pk}/duplicate", json={"with_descendants": True})

    assert response.status_code == 201
    copy = Document.objects.get(pk=response.json()["id"])
    assert response.json()["role"] == "owner"
    assert list(DocumentAccess.objects.filter(resource=copy).values_list("user", "role")) == [
        (other_user.pk, Role.OWNER)
    ]


def test_duplicate_child_needs_editor_on_parent(api, other_user, tree, grant):
    grant(tree["a"], other_user, Role.EDITOR)
    response = api(other_user).post(f"{API}{tree['a'].pk}/duplicate", json={})
    assert_error(response, 403, "permission_denied")
    assert Document.objects.count() == 6


def test_duplicate_bad_input(api, user, tree):
    response = api(user).post(f"{API}{tree['a'].pk}/duplicate", json={"with_descendants": "maybe"})
    assert_error(response, 422, "validation_error")
    assert_error(api(user).post(f"{API}nope/duplicate", json={}), 404, "not_found")


# --- trash, restore, destroy, purge ------------------------------------------------------------


def test_delete_trashes_subtree_and_restore_brings_it_back(api, user, tree):
    client = api(user)

    assert client.delete(f"{API}{tree['a'].pk}").status_code == 204

    a, a11 = fresh(tree["a"]), fresh(tree["a11"])
    assert a.deleted_at is not None and a.ancestors_deleted_at == a.deleted_at
    assert a11.deleted_at is None and a11.ancestors_deleted_at == a.deleted_at
    assert fresh(tree["b"]).ancestors_deleted_at is None
    assert_error(client.get(f"{API}{tree['a1'].pk}"), 404, "not_found")
    trash = client.get(f"{API}trash").json()
    assert [item["id"] for item in trash["items"]] == [str(a.pk)]
    assert trash["items"][0]["abilities"]["restore"] is True

    response = client.post(f"{API}{a.pk}/restore")

    assert response.status_code == 200, response.content
    assert response.json()["deleted_at"] is None
    assert Document.objects.filter(ancestors_deleted_at__isnull=False).count() == 0
    assert client.get(f"{API}{tree['a11'].pk}").status_code == 200


def test_restore_keeps_separately_deleted_descendant_in_trash(api, user, tree):
    client = api(user)
    client.delete(f"{API}{tree['a1'].pk}")
    client.delete(f"{API}{tree['a'].pk}")
    assert [i["title"] for i in client.get(f"{API}trash").json()["items"]] == ["a"]

    assert_error(client.post(f"{API}{tree['a1'].pk}/restore"), 409, "ancestor_in_trash")
    client.post(f"{API}{tree['a'].pk}/restore")

    assert fresh(tree["a"]).ancestors_deleted_at is None
    assert fresh(tree["a11"]).ancestors_deleted_at is not None
    assert client.post(f"{API}{tree['a1'].pk}/restore").status_code == 200
    assert fresh(tree["a11"]).ancestors_deleted_at is None


def test_restore_descendant_of_trashed_document_refused(api, user, tree):
    api(user).delete(f"{API}{tree['a'].pk}")
    assert_error(api(user).post(f"{API}{tree['a1'].pk}/restore"), 409, "ancestor_in_trash")


def test_restore_live_document_refused(api, user, tree):
    assert_error(api(user).post(f"{API}{tree['a'].pk}/restore"), 409, "not_in_trash")


def test_delete_by_editor_refused(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.EDITOR)
    assert_error(api(other_user).delete(f"{API}{tree['a'].pk}"), 403, "permission_denied")
    assert fresh(tree["a"]).deleted_at is None


def test_trash_hides_what_actor_cannot_restore(api, user, other_user, tree, grant):
    grant(tree["root"], other_user, Role.EDITOR)
    api(user).delete(f"{API}{tree['a'].pk}")
    assert api(other_user).get(f"{API}trash").json()["count"] == 0
    assert_error(api(other_user).post(f"{API}{tree['a'].pk}/restore"), 403, "permission_denied")


def test_hard_delete_by_owner_removes_subtree(api, user, tree):
    response = api(user).delete(f"{API}{tree['a'].pk}?hard=true")

    assert response.status_code == 204
    assert sorted(Document.objects.values_list("title", flat=True)) == ["b", "elsewhere", "root"]
    assert_tree_consistent()


def test_hard_delete_by_administrator_refused(api, other_user, tree, grant):
    grant(tree["root"], other_user, Role.ADMINISTRATOR)
    assert_error(api(other_user).delete(f"{API}{tree['a'].pk}?hard=true"), 403, "permission_denied")
    assert Document.objects.count() == 6


def test_hard_delete_bad_flag_is_422(api, user, tree):
    assert_error(api(user).delete(f"{API}{tree['a'].pk}?hard=perhaps"), 422, "validation_error")


def test_purge_destroys_only_old_trash(api, user, tree, settings):
    settings.DOCS_TRASH_DAYS = 30
    api(user).delete(f"{API}{tree['a'].pk}")
    api(user).delete(f"{API}{tree['b'].pk}")
    old = timezone.now() - dt.timedelta(days=31)
    Document.objects.filter(pk=tree["a"].pk).update(deleted_at=old)

    assert purge_trash.delay().get() == 1
    assert purge_trash.delay().get() == 0  # idempotent

    assert sorted(Document.objects.values_list("title", flat=True)) == ["b", "elsewhere", "root"]
    assert fresh(tree["b"]).deleted_at is not None
