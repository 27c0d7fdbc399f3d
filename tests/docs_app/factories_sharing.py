"""Test helpers for the sharing tests: documents at correct tree paths, grants, and a cast of
users holding each role on one document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from docs_app import tree
from docs_app.models import Document, DocumentAccess
from suite.access.roles import LinkReach, Role
from tests.conftest import assert_error
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

API = "/api/v1/documents"


def make_document(*, parent: Document | None = None, title: str = "Doc", **fields: Any) -> Document:
    if parent is None:
        path, depth = tree.new_root_path(), 1
    else:
        path, depth = tree.new_child_path(parent.pk), parent.depth + 1
    return Document.objects.create(path=path, depth=depth, title=title, **fields)


def grant(document: Document, role: Role, *, user: Any = None, team: Any = None) -> DocumentAccess:
    return DocumentAccess.objects.create(resource=document, user=user, team=team, role=role)


#: Actors of the role table, by name: a direct grant, or a grant to a team the user is in.
ROLE_ACTORS = {
    "reader": Role.READER,
    "commenter": Role.COMMENTER,
    "editor": Role.EDITOR,
    "administrator": Role.ADMINISTRATOR,
    "owner": Role.OWNER,
    "team_reader": Role.READER,
    "team_administrator": Role.ADMINISTRATOR,
}
#: The actors who may manage the document's accesses, and the others (``stranger`` aside).
MANAGERS = sorted(name for name, role in ROLE_ACTORS.items() if role >= Role.ADMINISTRATOR)
NON_MANAGERS = sorted(name for name, role in ROLE_ACTORS.items() if role < Role.ADMINISTRATOR)


@dataclass
class Cast:
    """A restricted document, its owner and one user per role of ``ROLE_ACTORS`` (plus a
    stranger), so a test can act as any of them."""

    document: Document
    users: dict[str, Any] = field(default_factory=dict)
    accesses: dict[str, DocumentAccess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.users[name]


def make_cast() -> Cast:
    document = make_document(title="Shared plan", link_reach=LinkReach.RESTRICTED)
    cast = Cast(document=document)
    for name, role in ROLE_ACTORS.items():
        user = UserFactory()
        cast.users[name] = user
        if name.startswith("team_"):
            team = TeamFactory()
            TeamMembershipFactory(team=team, user=user)
            cast.accesses[name] = grant(document, role, team=team)
        else:
            cast.accesses[name] = grant(document, role, user=user)
    cast.users["stranger"] = UserFactory()
    return cast


def assert_hidden_from_stranger_and_anonymous(api: Any, client: Any, cast: Cast, url: str) -> None:
    """``url`` answers a user without access as if the document did not exist, and asks an
    anonymous client to authenticate."""
    assert_error(api(cast["stranger"]).get(url), 404, "not_found")
    assert_error(client.get(url), 401, "not_authenticated")


def assert_list_query_count_is_constant(
    client: Any,
    url: str,
    *,
    add_first: Callable[[], Any],
    add_other: Callable[[int], Any],
    others: int,
) -> None:
    """Listing ``url`` costs as many queries with ``others`` more rows (``add_other(n)`` for
    each ``n``) as with the one row ``add_first()`` adds."""
    add_first()
    client.get(url)  # warm-up: the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).json()["count"] == 1
    for n in range(others):
        add_other(n)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).json()["count"] == 1 + others
    assert len(many) == len(few)
