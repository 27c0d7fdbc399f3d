"""Workspaces, folders and the insertion of items in the tree; rename and link settings;
visits and favorites."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app.models import (
    Favorite,
    Item,
    ItemAccess,
    ItemType,
    Visit,
)
from drive_app.permissions import access_item
from drive_app.services import locks
from drive_app.services.items.titles import (
    ROOT_SEQUENCE,
    _sibling_with_title,
    clean_title,
    resolve_title,
    title_conflict,
)
from suite.access import tree
from suite.access.grants import link_update
from suite.access.models import PATH_STEP
from suite.access.resolve import annotate_roles
from suite.access.roles import Perm, Role
from suite.errors import NotFound, PermissionDenied, SuiteError, ValidationFailed

# --- workspaces and folders -----------------------------------------------------------------------


def workspace_for(user: Any) -> Item:
    """The user's personal root folder, created on first use (safe against a concurrent
    first use: the second creator finds the first one's)."""
    existing = Item.objects.filter(workspace_owner=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            path = tree.new_root_path(ROOT_SEQUENCE)
            root = Item.objects.create(
                type=ItemType.FOLDER,
                title=_("My files"),
                path=path,
                depth=1,
                workspace_owner=user,
                quota_owner=user,
                creator=user,
            )
            ItemAccess.objects.create(resource=root, user=user, role=Role.OWNER)
            return root
    except IntegrityError:
        return Item.objects.get(workspace_owner=user)


def parent_for(actor: Any, parent_id: Any, *, need: Perm = Perm.EDIT) -> Item:
    """The folder to create into: ``parent_id``, or the actor's workspace when ``None``."""
    if parent_id is None:
        if not getattr(actor, "is_authenticated", False):
            raise PermissionDenied()
        # One query: the workspace with the actor's role on it (created on first use).
        workspace = annotate_roles(Item.objects.filter(workspace_owner=actor), actor).first()
        if workspace is None:
            return access_item(actor, workspace_for(actor).pk, need=need)
        return workspace
    parent = access_item(actor, parent_id, need=need)
    if parent.type != ItemType.FOLDER:
        raise ValidationFailed(_("The parent must be a folder."), code="parent_not_folder",
                               details={"field": "parent"})
    return parent


def new_child(parent: Item, *, actor: Any, savepoint: bool = True, **fields: Any) -> Item:
    """Insert an item under ``parent`` (call inside a transaction, title already resolved).
    A title taken meanwhile is a 409; ``savepoint=False`` saves the two statements of the
    savepoint that keeps the transaction usable to say so: the caller's transaction is then
    broken and the caller reports the conflict after it (:func:`conflict_after`)."""
    if parent.depth >= tree.MAX_DEPTH:
        raise SuiteError(_("The tree is too deep here."), code="too_deep", status=400)
    path = tree.new_child_path(Item, parent.pk)
    if not savepoint:
        return Item.objects.create(
            path=path, depth=len(path) // PATH_STEP, parent=parent, quota_owner_id=parent.quota_owner_id,
            creator=actor if getattr(actor, "is_authenticated", False) else None, **fields,
        )
    try:
        with transaction.atomic():
            return Item.objects.create(
                path=path,
                depth=len(path) // PATH_STEP,
                parent=parent,
                quota_owner_id=parent.quota_owner_id,
                creator=actor if getattr(actor, "is_authenticated", False) else None,
                **fields,
            )
    except IntegrityError as exc:  # a concurrent request took the title meanwhile
        existing = _sibling_with_title(parent, fields["title"])
        if existing is not None:
            raise title_conflict(existing) from exc
        raise


def conflict_after(error: IntegrityError, parent_id: Any, title: str) -> Exception:
    """What an insert that broke its transaction (``new_child(savepoint=False)``) means, once
    that transaction is rolled back: a 409 when the title is taken, else the error itself."""
    existing = _sibling_with_title(Item(pk=parent_id), title)
    return title_conflict(existing) if existing is not None else error


def folder_create(
    *, actor: Any, title: Any, parent_id: Any = None, on_conflict: str = "error", check_locks: bool = True
) -> Item:
    """A new folder. ``check_locks``: refuse while the parent is locked (``services.locks``;
    False for the WebDAV layer, which checked the client's own lock tokens)."""
    title = clean_title(title)
    with transaction.atomic():
        parent = parent_for(actor, parent_id)
        if check_locks:
            locks.refuse_adding_to(parent)
        title = resolve_title(parent, title, on_conflict)
        return new_child(parent, actor=actor, type=ItemType.FOLDER, title=title)


def item_update(
    *,
    actor: Any,
    item_id: Any,
    title: Any = None,
    on_conflict: str = "error",
    link_reach: str | None = None,
    link_role: str | None = None,
    request: Any = None,
    check_locks: bool = True,
) -> Item:
    """Rename an item (EDIT) and/or change its link reach and role (SHARE, through the shared
    access layer: audited, announced). A rename waits for the locks on the item, below it
    and on its folder (``check_locks``: see ``folder_create``)."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT if title is not None else Perm.VIEW)
        if link_reach is not None or link_role is not None:
            link_update(actor=actor, resource=item, link_reach=link_reach, link_role=link_role, request=request)
        if title is not None and item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be renamed."))
        if title is not None:
            new_title = clean_title(title)
            assert item.parent is not None
            if check_locks:
                locks.refuse_changing(item, folders=(item.parent,))
            new_title = resolve_title(item.parent, new_title, on_conflict, exclude=item.pk)
            try:
                with transaction.atomic():
                    Item.objects.filter(pk=item.pk).update(title=new_title, updated_at=timezone.now())
            except IntegrityError as exc:
                raise title_conflict(_sibling_with_title(item.parent, new_title) or item) from exc
    return item


#: Visits of one item by one user closer together than this are recorded once.
VISIT_RESOLUTION_SECONDS = 60


def item_visit(*, actor: Any, item: Item) -> None:
    """Remember that ``actor`` opened ``item`` now (for "recent"); repeated opens within
    :data:`VISIT_RESOLUTION_SECONDS` cost a cache lookup, not a database write."""
    if not getattr(actor, "is_authenticated", False):
        return
    if cache.add(f"drive-visit:{actor.pk}:{item.pk}", 1, VISIT_RESOLUTION_SECONDS):
        # One INSERT ... ON CONFLICT DO UPDATE (no transaction, lock and savepoint around it).
        Visit.objects.bulk_create(
            [Visit(user=actor, item=item, visited_at=timezone.now())],
            update_conflicts=True, unique_fields=["user", "item"], update_fields=["visited_at"],
        )


# --- favorites ------------------------------------------------------------------------------------------


def favorite_add(*, actor: Any, item_id: Any) -> Item:
    item = access_item(actor, item_id)
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    Favorite.objects.get_or_create(user=actor, item=item)
    return item


def favorite_remove(*, actor: Any, item_id: Any) -> Item:
    item = access_item(actor, item_id)
    deleted, _per_model = Favorite.objects.filter(user=actor, item=item).delete()
    if not deleted:
        raise NotFound(_("This item is not among your favorites."))
    return item
