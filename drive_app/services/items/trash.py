"""Trash, restore, destroy for good, and the purge of the trash."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import (
    FileVersion,
    Item,
)
from drive_app.permissions import access_item
from drive_app.services import locks
from drive_app.services.deletions import forget_objects
from drive_app.services.items.moves import _charged_bytes
from drive_app.services.items.titles import _sibling_with_title, free_title, title_conflict
from suite.access import tree
from suite.access.roles import Perm
from suite.errors import Conflict, PermissionDenied

# --- trash, restore, destroy -----------------------------------------------------------------------


def item_trash(*, actor: Any, item_id: Any, check_locks: bool = True) -> None:
    """Move an item and its subtree to the trash (bytes stay charged until purged). Waits for
    the locks on the item, below it and on its folder (``check_locks``: see ``folder_create``)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be deleted."))
        if check_locks:
            locks.refuse_changing(item, folders=(item.parent,))
        now = timezone.now()
        Item.objects.filter(pk=item.pk).update(deleted_at=now)
        tree.mark_subtree_deleted(Item, item.path, now)


def item_restore(*, actor: Any, item_id: Any) -> Item:
    """Bring an item back from the trash with what was trashed with it. If a live sibling
    took its title meanwhile, the restored item gets a free title (``name (2)``)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT, include_deleted=True)
        if item.deleted_at is None:
            if item.ancestors_deleted_at is not None:
                raise Conflict(_("This item was deleted with its folder: restore the folder."),
                               code="ancestor_in_trash")
            raise Conflict(_("This item is not in the trash."), code="not_in_trash")
        if Item.objects.filter(path__in=item.ancestor_paths[:-1], ancestors_deleted_at__isnull=False).exists():
            raise Conflict(_("A folder above this item is in the trash: restore it first."),
                           code="ancestor_in_trash")
        assert item.parent is not None
        locks.refuse_adding_to(item.parent)
        title = free_title(item.parent, item.title, exclude=item.pk)
        Item.objects.filter(pk=item.pk).update(title=title)  # free while still in the trash
        Item.objects.filter(path__startswith=item.path, ancestors_deleted_at=item.deleted_at).update(
            ancestors_deleted_at=None
        )
        try:  # a title taken meanwhile by a concurrent create: a 409, nothing restored
            with transaction.atomic():
                Item.objects.filter(pk=item.pk).update(deleted_at=None, ancestors_deleted_at=None)
        except IntegrityError as exc:
            raise title_conflict(_sibling_with_title(item.parent, title, exclude=item.pk) or item) from exc
    return access_item(actor, item.pk)


def destroy_subtree(item: Item) -> int:
    """Delete ``item`` and its subtree for good: rows now, S3 objects after commit, bytes
    released from their quota owners. Call with the tree lock held."""
    subtree = Q(path__startswith=item.path)
    versions = FileVersion.objects.filter(item__in=Item.objects.filter(subtree))
    keys = [key for pair in versions.values_list("key", "preview_key") for key in pair if key]
    uploads = [(key, upload) for key, upload in versions.exclude(multipart_upload_id="").values_list(
        "key", "multipart_upload_id")]
    for owner_id, size in _charged_bytes(subtree):
        quota.release(owner_id, size)
    count, _per_model = Item.objects.filter(subtree).delete()
    forget_objects(keys, uploads)
    return count


def item_destroy(*, actor: Any, item_id: Any) -> None:
    """Delete an item (in the trash or not) and its subtree for good. Owners only."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.DESTROY, include_deleted=True)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be deleted."))
        if item.deleted_at is None and item.ancestors_deleted_at is None:  # in the trash: no lock
            locks.refuse_changing(item, folders=(item.parent,))
        destroy_subtree(item)


def trash_purge(*, now: dt.datetime | None = None, batch: int = 100) -> int:
    """Destroy what was trashed more than ``DRIVE_TRASH_DAYS`` ago, S3 objects included
    (idempotent). Returns the number of trashed subtrees destroyed."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.DRIVE_TRASH_DAYS)
    destroyed = 0
    while True:
        with transaction.atomic():
            tree.lock_tree(Item)
            expired = list(Item.objects.filter(deleted_at__lt=cutoff).order_by("depth", "path")[:batch])
            for item in expired:
                if Item.objects.filter(pk=item.pk).exists():
                    destroy_subtree(item)
                    destroyed += 1
        if len(expired) < batch:
            return destroyed
