"""Move and copy of items (with their subtrees) between folders and drives."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import (
    FileVersion,
    Item,
    ItemType,
    UploadState,
)
from drive_app.permissions import access_item, not_ready
from drive_app.services import locks
from drive_app.services.items.folders import new_child, parent_for
from drive_app.services.items.titles import _sibling_with_title, resolve_title, title_conflict
from suite.access import tree
from suite.access.resolve import effective_role
from suite.access.roles import Perm, role_allows
from suite.errors import PermissionDenied, SuiteError
from suite.storage import get_blob_store

# --- move and copy ----------------------------------------------------------------------------------


def _charged_bytes(subtree: Q) -> list[tuple[Any, int]]:
    """(quota owner, bytes) charged for the versions of the items in ``subtree``."""
    rows = (
        FileVersion.objects.filter(item__in=Item.objects.filter(subtree))
        .values("item__quota_owner")
        .annotate(total=Sum("charged_bytes"))
    )
    return [(row["item__quota_owner"], row["total"] or 0) for row in rows]


def item_move(
    *, actor: Any, item_id: Any, parent_id: Any, on_conflict: str = "error", check_locks: bool = True
) -> Item:
    """Move an item (and its subtree) into another folder. Needs EDIT on the item and on the
    target; never into itself or its own subtree. Bytes change quota owner when the move
    crosses workspaces (the target owner's quota must hold them). Waits for the locks on the
    item, below it, and on both folders (``check_locks``: see ``folder_create``).

    Moving takes the item out of its folder, so the actor must be able to edit that folder
    too (an item shared with someone is not theirs to take out of its owner's tree), and
    moving it into another person's drive hands it over: owners only (an editor of a shared
    folder must not make its files theirs, then delete them for good)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be moved."))
        target = parent_for(actor, parent_id)
        if target.pk != item.parent_id:
            check_may_take_out(actor, item, target.quota_owner_id)
        if target.path.startswith(item.path):
            raise SuiteError(
                _("An item cannot be moved into itself or its own subtree."),
                code="invalid_move", status=400, details={"field": "parent"},
            )
        if target.pk == item.parent_id:
            return item
        if check_locks:
            locks.refuse_changing(item, folders=(item.parent, target))
        depth_below = (
            Item.objects.filter(path__startswith=item.path).order_by("-depth").values_list("depth", flat=True).first()
            or item.depth
        ) - item.depth
        if target.depth + 1 + depth_below > tree.MAX_DEPTH:
            raise SuiteError(_("The tree is too deep here."), code="too_deep", status=400)
        title = resolve_title(target, item.title, on_conflict, exclude=item.pk)
        subtree = Q(path__startswith=item.path)
        if target.quota_owner_id != item.quota_owner_id:
            for owner_id, size in _charged_bytes(subtree):
                quota.charge(target.quota_owner_id, size)
                quota.release(owner_id, size)
            Item.objects.filter(subtree).update(quota_owner_id=target.quota_owner_id)
        new_path = tree.new_child_path(Item, target.pk)
        try:  # a title taken meanwhile by a concurrent create breaks the unique index: a 409
            with transaction.atomic():
                Item.objects.filter(pk=item.pk).update(parent=target, title=title, updated_at=timezone.now())
                tree.rewrite_subtree(Item, item.path, new_path)
        except IntegrityError as exc:
            existing = _sibling_with_title(target, title, exclude=item.pk)
            raise title_conflict(existing or item) from exc
    return access_item(actor, item.pk)


def check_may_take_out(actor: Any, item: Item, quota_owner_id: Any) -> None:
    """``actor`` (EDIT on ``item``) is about to take ``item`` out of its folder into a folder
    of ``quota_owner_id``'s drive: they must be able to edit the folder it leaves, and only
    an owner of the item may hand it over to another person's drive (see ``item_move``)."""
    assert item.parent is not None
    if not role_allows(effective_role(actor, item.parent), Perm.EDIT):
        raise PermissionDenied(_("You cannot move this item out of its folder: you can only edit the item."))
    if quota_owner_id != item.quota_owner_id and not role_allows(effective_role(actor, item), Perm.DESTROY):
        raise PermissionDenied(_("Only an owner of this item can move it to another person's drive."))


def item_copy(
    *, actor: Any, item_id: Any, parent_id: Any = None, on_conflict: str = "rename", check_locks: bool = True
) -> Item:
    """Copy an item (a folder with its subtree) into a folder. Only ready file versions are
    copied (the current one), as new S3 objects; the copier becomes the creator, accesses
    are not copied (the copy inherits the target's). Charged to the target's quota owner.
    Refused while the target is locked (``check_locks``: see ``folder_create``)."""
    store = get_blob_store()
    copied_keys: list[str] = []
    try:
        with transaction.atomic():
            source = access_item(actor, item_id, need=Perm.VIEW)
            target = parent_for(actor, parent_id)
            if target.path.startswith(source.path):
                raise SuiteError(_("A folder cannot be copied into itself."), code="invalid_copy",
                                 status=400, details={"field": "parent"})
            if source.type == ItemType.FILE and source.current_version_id is None:
                raise not_ready(source)
            if check_locks:
                locks.refuse_adding_to(target)
            title = resolve_title(target, source.title, on_conflict)
            subtree = list(
                Item.objects.filter(path__startswith=source.path, ancestors_deleted_at__isnull=True)
                .select_related("current_version")
                .order_by("depth", "path")
            )
            copies: dict[Any, Item] = {}
            for node in subtree:
                parent = target if node.pk == source.pk else copies.get(node.parent_id)
                if parent is None:
                    continue
                fields: dict[str, Any] = {"type": node.type, "title": title if node.pk == source.pk else node.title}
                version = node.current_version
                if node.type == ItemType.FILE:
                    if version is None:
                        continue  # nothing ready to copy
                    fields.update(size=version.size, mimetype=version.mimetype, sha256=version.sha256,
                                  upload_state=UploadState.READY)
                copy = new_child(parent, actor=actor, **fields)
                copies[node.pk] = copy
                if version is not None and node.type == ItemType.FILE:
                    key = store.new_key("drive")
                    quota.charge(target.quota_owner_id, version.size or 0)
                    store.copy(version.key, key)
                    copied_keys.append(key)
                    new_version = FileVersion.objects.create(
                        item=copy, number=1, key=key, state=UploadState.READY,
                        declared_size=version.size or 0, size=version.size, mimetype=version.mimetype,
                        sha256=version.sha256, charged_bytes=version.size or 0,
                        uploaded_by=actor, uploaded_at=timezone.now(),
                    )
                    Item.objects.filter(pk=copy.pk).update(current_version=new_version)
    except BaseException:
        if copied_keys:
            store.delete_many(copied_keys)
        raise
    return access_item(actor, copies[source.pk].pk)
