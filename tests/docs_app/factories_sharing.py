"""Test helpers for the sharing tests: documents at correct tree paths, grants, and a cast of
users holding each role on one document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docs_app import tree
from docs_app.models import Document, DocumentAccess
from suite.access.roles import LinkReach, Role
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
