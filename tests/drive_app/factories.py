"""Drive items for tests that are not about the drive's own services: rows written directly,
at correct tree paths, with the invariants the services keep (a workspace root per user,
owned by them, quotas charged to the workspace's owner)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from drive_app.models import Item, ItemAccess, ItemType
from drive_app.services.items import ROOT_SEQUENCE
from suite.access import tree
from suite.access.roles import Role
from tests.factories import UserFactory

_titles = itertools.count(1)


def make_workspace(user: Any, **fields: Any) -> Item:
    """``user``'s personal root folder, with the owner access the drive gives it."""
    workspace = Item.objects.create(
        path=tree.new_root_path(ROOT_SEQUENCE),
        depth=1,
        type=ItemType.FOLDER,
        title="My files",
        workspace_owner=user,
        quota_owner=user,
        creator=user,
        **fields,
    )
    ItemAccess.objects.create(resource=workspace, user=user, role=Role.OWNER)
    return workspace


def make_item(
    parent: Item,
    *,
    kind: str = ItemType.FOLDER,
    title: str | None = None,
    creator: Any = None,
    **fields: Any,
) -> Item:
    """A folder (or, with ``kind=ItemType.FILE``, a file without bytes) under ``parent``,
    charged to the same quota owner."""
    path = tree.new_child_path(Item, parent.pk)
    return Item.objects.create(
        path=path,
        depth=parent.depth + 1,
        parent=parent,
        type=kind,
        title=title or f"Item {next(_titles)}",
        quota_owner_id=parent.quota_owner_id,
        creator=creator or parent.creator,
        **fields,
    )


def grant(item: Item, role: Role, *, user: Any = None, team: Any = None) -> ItemAccess:
    return ItemAccess.objects.create(resource=item, user=user, team=team, role=role)


@dataclass
class DriveCast:
    """A folder in its owner's workspace, a file in it, and one user per role on the folder
    (the owner holds the workspace, so its grant shows on the folder as inherited), plus a
    stranger."""

    workspace: Item
    folder: Item
    file: Item
    users: dict[str, Any] = field(default_factory=dict)
    accesses: dict[str, ItemAccess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.users[name]


#: Roles granted on the cast's folder, by actor name.
FOLDER_ROLES = {"reader": Role.READER, "editor": Role.EDITOR, "administrator": Role.ADMINISTRATOR}


def make_drive_cast() -> DriveCast:
    owner = UserFactory()
    workspace = make_workspace(owner)
    folder = make_item(workspace, title="Projects")
    cast = DriveCast(
        workspace=workspace,
        folder=folder,
        file=make_item(folder, kind=ItemType.FILE, title="plan.pdf"),
    )
    cast.users["owner"] = owner
    cast.accesses["owner"] = ItemAccess.objects.get(resource=workspace, user=owner)
    for name, role in FOLDER_ROLES.items():
        cast.users[name] = UserFactory()
        cast.accesses[name] = grant(folder, role, user=cast.users[name])
    cast.users["stranger"] = UserFactory()
    return cast
