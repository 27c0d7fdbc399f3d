"""Who may do what on a drive item: the ``access_item`` helper and the ``abilities`` map sent
with every item (clients never re-implement these rules).

Roles are those of the platform (``suite.access``), inherited down the folder tree:
reader (browse, download), editor (upload, rename, create, move, and trash/restore, as a
file manager expects: desktop clients delete and replace files through WebDAV; the trash keeps
everything restorable), administrator (share), owner (delete for good).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from drive_app.models import Item, ItemType, UploadState
from suite.access.resolve import access_object
from suite.access.roles import Perm, role_allows
from suite.errors import Conflict


def items(*, include_deleted: bool = False) -> QuerySet[Item]:
    queryset = Item.objects.all()
    return queryset if include_deleted else queryset.filter(ancestors_deleted_at__isnull=True)


def access_item(
    actor: Any, item_id: Any, *, need: Perm = Perm.VIEW, include_deleted: bool = False
) -> Item:
    """The item with its ``effective_role``, or the same 404 for missing and invisible (403
    when visible but ``need`` is not met). Items in the trash are missing unless
    ``include_deleted``."""
    return access_object(items(include_deleted=include_deleted), actor, item_id, need=need)


def item_abilities(item: Item, actor: Any) -> dict[str, bool]:
    """What ``actor`` may do on ``item`` (annotated with ``effective_role``)."""
    role = getattr(item, "effective_role", None)
    authenticated = bool(getattr(actor, "is_authenticated", False))
    live = item.ancestors_deleted_at is None
    folder = item.type == ItemType.FOLDER
    workspace = item.workspace_owner_id is not None
    ready = item.current_version_id is not None
    return {
        "retrieve": role_allows(role, Perm.VIEW),
        "update": live and not workspace and role_allows(role, Perm.EDIT),
        "children_list": folder and role_allows(role, Perm.VIEW),
        "children_create": live and folder and role_allows(role, Perm.EDIT),
        "upload": live and (folder or item.type == ItemType.FILE) and role_allows(role, Perm.EDIT),
        "download": not folder and ready and role_allows(role, Perm.VIEW),
        "zip": folder and role_allows(role, Perm.VIEW),
        "preview": not folder and ready and role_allows(role, Perm.VIEW),
        "versions_list": not folder and role_allows(role, Perm.VIEW),
        "versions_manage": live and not folder and role_allows(role, Perm.EDIT),
        "move": live and not workspace and role_allows(role, Perm.EDIT),
        "copy": live and authenticated and (folder or ready) and role_allows(role, Perm.VIEW),
        "trash": live and not workspace and role_allows(role, Perm.EDIT),
        "restore": not live and item.deleted_at is not None and role_allows(role, Perm.EDIT),
        "destroy": not workspace and role_allows(role, Perm.DESTROY),
        "accesses_view": authenticated and role_allows(role, Perm.VIEW),
        "accesses_manage": live and role_allows(role, Perm.SHARE),
        "links_manage": live and role_allows(role, Perm.SHARE),
        "favorite": live and authenticated and role_allows(role, Perm.VIEW),
    }


def servable(item: Item) -> bool:
    """Fail closed: only a file whose current version passed every check is ever served."""
    return item.type == ItemType.FILE and item.current_version_id is not None


def not_ready(item: Item) -> Conflict:
    """The error for a file that has no version that passed every check (yet)."""
    return Conflict(
        _("This file is not available: %(state)s.") % {"state": item.get_upload_state_display()},
        code="file_not_ready", details={"upload_state": item.upload_state},
    )


__all__ = ["UploadState", "access_item", "item_abilities", "items", "not_ready", "servable"]
