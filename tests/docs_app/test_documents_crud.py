"""Create, retrieve, update, list, favorites and recent documents through the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from docs_app.models import Document, DocumentAccess, Favorite, Visit
from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.conftest import API

pytestmark = pytest.mark.django_db


# --- create ------------------------------------------------------------------------------------


def test_create_root_makes_creator_owner(api, user):
    response = api(user).post(API, json={"title": "  Rapport annuel  ", "parent": None})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Rapport annuel"
    assert body["parent"] is None
    assert body["depth"] == 1
    assert body["role"] == "owner"
    assert body["link_reach"] == "restricted" and body["link_role"] == "reader"
    assert body["abilities"]["hard_delete"] is True
    assert body["creator"] == str(user.pk)
    assert body["nb_children"] == 0 and body["is_favorite"] is False
    document = Document.objects.get(pk=body["id"])
    assert DocumentAccess.objects.filter(resource=document, user=user, role=Role.OWNER).exists()


def test_create_child_inherits_without_access(api, user, make_document):
    root = make_document(owner=user)

    first = api(user).post(API, json={"title": "A", "parent": str(root.pk)}).json()
    second = api(user).post(API, json={"title": "B", "parent": str(root.pk)}).json()

    assert first["parent"] == str(root.pk) and first["depth"] == 2
    assert first["role"] == "owner"
    assert second["position"] > first["position"]
    assert not DocumentAccess.objects.filter(resource_id=first["id"]).exists()


def test_create_untitled_allowed(api, user):
    response = api(user).post(API, json={"title": ""})
    assert response.status_code == 201
    assert response.json()["title"] == ""


@pytest.mark.parametrize("title", ["x" * 256, "bad\x07bell", "line\nbreak"])
def test_create_bad_title_refused(api, user, title):
    assert_error(api(user).post(API, json={"title": title}), 422, "validation_error")
    assert not Document.objects.exists()


def test_create_child_needs_editor_on_parent(api, user, other_user, make_document, grant):
    root = make_document(owner=other_user)
    grant(root, user, Role.COMMENTER)

    response = api(user).post(API, json={"title": "x", "parent": str(root.pk)})

    assert_error(response, 403, "permission_denied")
    assert Document.objects.count() == 1


@pytest.mark.parametrize("parent", ["not-a-uuid", "7d9f3a3e-8d3b-4b4b-9b0e-1a2b3c4d5e6f"])
def test_create_under_unknown_parent_is_404(api, user, parent):
    assert_error(api(user).post(API, json={"title": "x", "parent": parent}), 404, "not_found")


def test_create_anonymous_is_401(client):
    response = client.post(API, data={"title": "x"}, content_type="application/json")
    assert_error(response, 401, "not_authenticated")


# --- retrieve ----------------------------------------------------------------------------------


def test_retrieve_records_visit(api, user, make_document):
    document = make_document(owner=user)

    response = api(user).get(f"{API}{document.pk}")

    assert response.status_code == 200
    assert response.json()["id"] == str(document.pk)
    assert Visit.objects.filter(user=user, document=document).exists()


def test_retrieve_invisible_is_404(api, user, other_user, make_document):
    document = make_document(owner=other_user)
    assert_error(api(user).get(f"{API}{document.pk}"), 404, "not_found")
    assert_error(api(user).get(f"{API}nonsense"), 404, "not_found")


def test_retrieve_public_anonymous(client, user, make_document):
    document = make_document(owner=user, link_reach="public")

    response = client.get(f"{API}{document.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "reader"
    assert body["abilities"]["update"] is False and body["abilities"]["favorite"] is False
    assert not Visit.objects.exists()


# --- update ------------------------------------------------------------------------------------


def test_update_title_and_excerpt_by_editor(api, user, other_user, make_document, grant):
    document = make_document(owner=other_user)
    grant(document, user, Role.EDITOR)

    response = api(user).patch(f"{API}{document.pk}", json={"title": "Nouveau", "excerpt": "Résumé"})

    assert response.status_code == 200, response.content
    document.refresh_from_db()
    assert (document.title, document.excerpt) == ("Nouveau", "Résumé")


def test_update_link_by_editor_refused(api, user, other_user, make_document, grant):
    document = make_document(owner=other_user)
    grant(document, user, Role.EDITOR)

    response = api(user).patch(f"{API}{document.pk}", json={"link_reach": "public"})

    assert_error(response, 403, "permission_denied")
    document.refresh_from_db()
    assert document.link_reach == "restricted"


def test_update_link_by_administrator(api, user, other_user, make_document, grant):
    document = make_document(owner=other_user)
    grant(document, user, Role.ADMINISTRATOR)

    response = api(user).patch(
        f"{API}{document.pk}", json={"link_reach": "authenticated", "link_role": "commenter"}
    )

    assert response.status_code == 200
    assert response.json()["link_reach"] == "authenticated"
    assert response.json()["link_role"] == "commenter"


@pytest.mark.parametrize(
    "payload,status,code",
    [
        ({"link_role": "owner"}, 422, "validation_error"),
        ({"link_reach": "everyone"}, 422, "validation_error"),
        ({"title": "t" * 300}, 422, "validation_error"),
        ({"excerpt": "e" * 501}, 422, "validation_error"),
    ],
)
def test_update_bad_input(api, user, make_document, payload, status, code):
    document = make_document(owner=user, title="Kept")
    assert_error(api(user).patch(f"{API}{document.pk}", json=payload), status, code)
    document.refresh_from_db()
    assert document.title == "Kept" and document.link_reach == "restricted"


def test_update_by_reader_refused(api, user, other_user, make_document, grant):
    document = make_document(owner=other_user, title="Kept")
    grant(document, user, Role.READER)
    assert_error(api(user).patch(f"{API}{document.pk}", json={"title": "x"}), 403, "permission_denied")
    document.refresh_from_db()
    assert document.title == "Kept"


# --- favorites and recent ----------------------------------------------------------------------


def test_favorite_put_list_delete(api, user, make_document):
    document = make_document(owner=user)
    client = api(user)

    assert client.put(f"{API}{document.pk}/favorite").status_code == 204
    assert client.put(f"{API}{document.pk}/favorite").status_code == 204  # idempotent
    favorites = client.get(f"{API}favorites").json()
    assert [item["id"] for item in favorites["items"]] == [str(document.pk)]
    assert favorites["items"][0]["is_favorite"] is True
    assert client.get(f"{API}{document.pk}").json()["is_favorite"] is True

    assert client.delete(f"{API}{document.pk}/favorite").status_code == 204
    assert client.get(f"{API}favorites").json()["count"] == 0


def test_favorite_invisible_document_is_404(api, user, other_user, make_document):
    document = make_document(owner=other_user)
    assert_error(api(user).put(f"{API}{document.pk}/favorite"), 404, "not_found")
    assert_error(api(user).put(f"{API}bad-id/favorite"), 404, "not_found")
    assert not Favorite.objects.exists()


def test_recent_most_recent_first(api, user, make_document):
    first, second = make_document(owner=user), make_document(owner=user)
    client = api(user)
    client.get(f"{API}{first.pk}")
    client.get(f"{API}{second.pk}")
    client.get(f"{API}{first.pk}")

    items = client.get(f"{API}recent").json()["items"]

    assert [item["id"] for item in items] == [str(first.pk), str(second.pk)]
    assert items[0]["visited_at"] >= items[1]["visited_at"]


def test_recent_hides_documents_no_longer_visible(api, user, other_user, make_document, grant):
    document = make_document(owner=other_user)
    access = grant(document, user, Role.READER)
    api(user).get(f"{API}{document.pk}")
    access.delete()

    assert api(user).get(f"{API}recent").json()["count"] == 0


def test_recent_anonymous_is_401(client):
    assert_error(client.get(f"{API}recent"), 401, "not_authenticated")


def test_list_bad_ordering_is_422(api, user):
    assert_error(api(user).get(f"{API}?ordering=password"), 422, "validation_error")
    assert_error(api(user).get(f"{API}?scope=everything"), 422, "validation_error")
    assert_error(api(user).get(f"{API}?limit=0"), 422, "validation_error")


__all__ = ["CaptureQueriesContext", "connection"]
