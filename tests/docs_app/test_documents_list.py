"""The documents list: scopes, search, parent filter, ordering, constant query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.conftest import API

pytestmark = pytest.mark.django_db


def titles(response):
    assert response.status_code == 200, response.content
    return sorted(item["title"] for item in response.json()["items"])


def test_default_list_shows_entry_points_not_descendants(api, user, other_user, make_document, grant):
    mine = make_document(owner=user, title="mine")
    make_document(parent=mine, title="my child")
    shared = make_document(owner=other_user, title="shared")
    make_document(parent=shared, title="shared child")
    make_document(owner=other_user, title="public elsewhere", link_reach="authenticated")
    grant(shared, user, Role.READER)
    client = api(user)

    assert titles(client.get(API)) == ["mine", "shared"]
    assert titles(client.get(f"{API}?scope=mine")) == ["mine"]
    assert titles(client.get(f"{API}?scope=shared")) == ["shared"]
    assert titles(client.get(f"{API}?parent={shared.pk}")) == ["shared child"]


def test_team_share_appears_in_shared(api, make_document, grant, team_member, other_user):
    team, member = team_member()
    document = make_document(owner=other_user, title="team doc")
    grant(document, team, Role.EDITOR)

    response = api(member).get(f"{API}?scope=shared")

    assert titles(response) == ["team doc"]
    assert response.json()["items"][0]["role"] == "editor"


def test_search_is_accent_and_case_insensitive(api, user, other_user, make_document, grant):
    root = make_document(owner=user, title="Dossier")
    make_document(parent=root, title="Écolé maternelle")
    make_document(parent=root, title="Collège")
    make_document(owner=other_user, title="École cachée")  # not visible
    client = api(user)

    assert titles(client.get(f"{API}?q=ecole")) == ["Écolé maternelle"]
    assert titles(client.get(f"{API}?q=ÉCOLE")) == ["Écolé maternelle"]
    assert titles(client.get(f"{API}?q=%25")) == []  # LIKE wildcards are literal


def test_search_finds_descendants_of_shared_folder(api, user, other_user, make_document, grant):
    shared = make_document(owner=other_user, title="Projets")
    make_document(parent=make_document(parent=shared, title="2026"), title="Budget prévisionnel")
    grant(shared, user, Role.READER)

    assert titles(api(user).get(f"{API}?q=budget previsionnel")) == ["Budget prévisionnel"]
    assert titles(api(user).get(f"{API}?q=budget&scope=shared")) == ["Budget prévisionnel"]


def test_ordering(api, user, make_document):
    for title in ("b", "c", "a"):
        make_document(owner=user, title=title)
    items = api(user).get(f"{API}?ordering=title").json()["items"]
    assert [item["title"] for item in items] == ["a", "b", "c"]
    items = api(user).get(f"{API}?ordering=-title").json()["items"]
    assert [item["title"] for item in items] == ["c", "b", "a"]


def test_list_parent_invisible_is_404(api, user, other_user, make_document):
    document = make_document(owner=other_user)
    assert_error(api(user).get(f"{API}?parent={document.pk}"), 404, "not_found")


def test_list_anonymous_is_401(client):
    assert_error(client.get(API), 401, "not_authenticated")


def _queries(client, path):
    with CaptureQueriesContext(connection) as context:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(context.captured_queries), response.json()


@pytest.mark.parametrize(
    "path",
    ["", "?scope=shared", "?q=doc", "?parent={parent}", "favorites", "recent", "trash",
     "{parent}/children"],
)
def test_lists_cost_constant_queries(api, user, other_user, make_document, grant, path):
    parent = make_document(owner=user, title="parent doc")
    team_doc_owner = other_user
    client = api(user)

    def populate(n):
        for i in range(n):
            child = make_document(parent=parent, title=f"doc {i}")
            shared = make_document(owner=team_doc_owner, title=f"shared doc {i}")
            grant(shared, user, Role.EDITOR)
            client.put(f"{API}{child.pk}/favorite")
            client.get(f"{API}{shared.pk}")
            trashed = make_document(owner=user, title=f"trashed doc {i}")
            client.delete(f"{API}{trashed.pk}")

    url = API + path.format(parent=parent.pk)
    populate(5)
    small, small_body = _queries(client, url)
    populate(35)
    large, large_body = _queries(client, url)

    assert large_body["count"] > small_body["count"] >= 1
    assert large == small
