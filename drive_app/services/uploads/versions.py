"""A file's versions (restore, delete) and downloads of its ready bytes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import FileVersion, Item, ItemType, UploadState
from drive_app.permissions import access_item, not_ready
from drive_app.services import locks
from drive_app.services.uploads.analysis import apply_retention, make_current
from drive_app.services.uploads.pending import forget_pending, latest_state, next_version_number
from suite.access.roles import Perm
from suite.errors import Conflict, NotFound, ValidationFailed
from suite.storage import PresignedRequest, get_blob_store


def delete_version_row(item: Item, version: FileVersion) -> None:
    quota.release(item.quota_owner_id, version.charged_bytes)
    keys = [k for k in (version.key, version.preview_key) if k]
    version.delete()
    transaction.on_commit(lambda: get_blob_store().delete_many(keys))


def version_restore(*, actor: Any, item_id: Any, version_id: Any) -> Item:
    """Make an older version current again, as a new version (a server-side copy), so the
    history keeps what was current before. Not while the file is locked (as a new upload)."""
    store = get_blob_store()
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        source = _version_of(item, version_id, ready=True)
        locks.refuse_new_version(item)
        key = store.new_key("drive")
        number = next_version_number(item)
        quota.charge(item.quota_owner_id, source.size or 0)
        store.copy(source.key, key)
        try:
            version = FileVersion.objects.create(
                item=item, number=number, key=key, state=UploadState.READY, declared_size=source.size or 0,
                size=source.size, mimetype=source.mimetype, sha256=source.sha256,
                charged_bytes=source.size or 0, uploaded_by=actor, uploaded_at=timezone.now(),
            )
        except Exception:
            store.delete(key)
            raise
        make_current(version)
        apply_retention(item.pk)
    return access_item(actor, item.pk)


def version_delete(*, actor: Any, item_id: Any, version_id: Any) -> None:
    """Delete one version (not the current one: restore another first; not the only one:
    delete the file). The item's state follows its newest remaining version."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        version = _version_of(item, version_id)
        if version.pk == item.current_version_id:
            raise Conflict(_("The current version cannot be deleted."), code="current_version")
        if version.state == UploadState.PENDING:
            forget_pending(item, version)
            return
        if not FileVersion.objects.filter(item=item).exclude(pk=version.pk).exists():
            raise Conflict(_("The only version of a file cannot be deleted: delete the file."), code="last_version")
        delete_version_row(item, version)
        Item.objects.filter(pk=item.pk).update(upload_state=latest_state(item))


def _version_of(item: Item, version_id: Any, *, ready: bool = False) -> FileVersion:
    from suite.access.resolve import parse_pk

    pk = parse_pk(FileVersion, version_id)
    version = FileVersion.objects.filter(item=item, pk=pk).first() if pk else None
    if version is None:
        raise NotFound(_("No such version."))
    if ready and version.state != UploadState.READY:
        raise Conflict(_("This version is not available."), code="version_not_ready",
                       details={"upload_state": version.state})
    return version


def download_url(*, actor: Any, item_id: Any, version_id: Any = None, inline: bool = False) -> PresignedRequest:
    """A presigned GET of the current (or given) ready version, named after the item."""
    from drive_app.permissions import items
    from drive_app.services.items import item_visit
    from suite.access.resolve import access_object

    # The current version comes with the access check (one query).
    item = access_object(items().select_related("current_version"), actor, item_id, need=Perm.VIEW)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Folders are downloaded as a ZIP archive."), code="not_a_file")
    if version_id is not None:
        version = _version_of(item, version_id, ready=True)
    elif item.current_version is None:
        raise not_ready(item)
    else:
        version = item.current_version
    item_visit(actor=actor, item=item)
    return get_blob_store().presigned_get(version.key, filename=item.title, content_type=version.mimetype,
                                          inline=inline)
