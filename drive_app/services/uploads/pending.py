"""Uploads waiting for their bytes: finding them, and forgetting them (abort, cleanup, a
failed server-side write)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from drive_app.models import FileVersion, Item, UploadState
from drive_app.permissions import access_item
from drive_app.selectors.items import with_annotations
from drive_app.services.deletions import forget_objects
from suite.access.roles import Perm
from suite.errors import Conflict


def editable_item(actor: Any, item_id: Any, *, include_deleted: bool = False) -> Item:
    """The item the actor may upload to, annotated as ``ItemOut`` shows it (role, favorite,
    latest reason) in the one query of the access check, so the answer needs no re-read."""
    from drive_app.permissions import items
    from suite.access.resolve import access_object

    queryset = with_annotations(items(include_deleted=include_deleted), actor)
    return access_object(queryset, actor, item_id, need=Perm.EDIT)


def pending_version(actor: Any, item_id: Any, *, include_deleted: bool = False) -> tuple[Item, FileVersion]:
    """The item and its newest upload still waiting for bytes (EDIT needed)."""
    item = access_item(actor, item_id, need=Perm.EDIT, include_deleted=include_deleted)
    return item, pending_upload_of(item)


def pending_upload_of(item: Item, *, lock: bool = False) -> FileVersion:
    """The newest upload of ``item`` still waiting for bytes (the caller checked access);
    ``lock``: its row locked until the end of the transaction."""
    queryset = FileVersion.objects.filter(item=item, state=UploadState.PENDING).order_by("-number")
    version = (queryset.select_for_update() if lock else queryset).first()
    if version is None:
        raise Conflict(_("No upload is waiting for bytes on this item."), code="no_pending_upload")
    return version


def next_version_number(item: Item) -> int:
    """The number the next version of ``item`` takes. Call inside the transaction that
    inserts the version: the item's row stays locked until it ends, so concurrent new
    versions of one file are numbered one after the other (not both the same: a 500)."""
    assert transaction.get_connection().in_atomic_block, "next_version_number() needs a transaction"
    Item.objects.select_for_update().filter(pk=item.pk).values_list("pk", flat=True).first()
    last = FileVersion.objects.filter(item=item).order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


def forget_pending(item: Item, version: FileVersion) -> None:
    """Delete a pending version (and its item when it was the file's first upload); S3
    resources go after commit. Call inside a transaction: the version's row is locked and
    must still be pending (an upload-ended that committed meanwhile made it a file: 409)."""
    if not FileVersion.objects.select_for_update().filter(pk=version.pk, state=UploadState.PENDING).exists():
        raise Conflict(_("This upload has already ended."), code="no_pending_upload")
    key, upload_id = version.key, version.multipart_upload_id
    version.delete()
    first_upload = not FileVersion.objects.filter(item=item).exists()
    if first_upload:
        Item.objects.filter(pk=item.pk).delete()
    else:
        Item.objects.filter(pk=item.pk).update(upload_state=latest_state(item))
    forget_objects([], [(key, upload_id)])


def latest_state(item: Item) -> str | None:
    return FileVersion.objects.filter(item=item).order_by("-number").values_list("state", flat=True).first()
