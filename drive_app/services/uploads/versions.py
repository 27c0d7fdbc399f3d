"""A file's versions (restore, delete) and downloads of its ready bytes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import FileVersion, Item, ItemAccess, ItemType, UploadState
from drive_app.permissions import access_item, not_ready
from drive_app.services import locks
from drive_app.services.deletions import forget_objects
from drive_app.services.uploads.analysis import apply_retention, make_current
from drive_app.services.uploads.pending import forget_pending, latest_state, next_version_number
from suite.access.roles import Perm
from suite.errors import Conflict, NotFound, ValidationFailed
from suite.storage import PresignedRequest, get_blob_store


def delete_version_row(item: Item, version: FileVersion) -> None:
    quota.release(item.quota_owner_id, version.charged_bytes)
    keys = [k for k in (version.key, version.preview_key) if k]
    version.delete()
    forget_objects(keys)


def version_restore(*, actor: Any, item_id: Any, version_id: Any) -> Item:
    """Make an older version current again, as a new version (a server-side copy), so the
    history keeps what was current before. Not while the file is locked (as a new upload)."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        source = _version_of(item, version_id, ready=True)
        locks.refuse_new_version(item)
        version = _copied(actor, item, source, next_version_number(item))
        make_current(version)
        apply_retention(item.pk)
    return access_item(actor, item.pk)


def file_replace(*, actor: Any, target_id: Any, source_id: Any, move: bool, check_locks: bool = True) -> Item:
    """File ``target`` takes the current bytes of file ``source`` as its newest version: a
    WebDAV MOVE or COPY of a file over another (a desktop application saves by writing a
    temporary file, then moving it over the original). The target keeps its identity, its
    history, its shares and links; overwriting a file adds a version, as a PUT does.

    ``move``: the source's version is handed over (no bytes copied; the quota charge follows
    it), then the source goes: for good when it holds nothing any more (no other version, no
    share of its own: a temporary file), else to the trash with its newest remaining ready
    version current again. Taking it out of its folder follows the rules of a move
    (``check_may_take_out``). Without ``move`` the bytes are copied server-side.
    ``check_locks``: as ``items.folder_create`` (False for the WebDAV layer)."""
    from drive_app.models import ShareLink
    from drive_app.services.items import check_may_take_out, item_trash
    from suite.access import tree

    with transaction.atomic():
        if move:
            tree.lock_tree(Item)  # the source leaves the tree, as with a trash or a delete
        target = access_item(actor, target_id, need=Perm.EDIT)
        source = access_item(actor, source_id, need=Perm.EDIT if move else Perm.VIEW)
        if target.type != ItemType.FILE or source.type != ItemType.FILE:
            raise ValidationFailed(_("Only files have versions."), code="not_a_file")
        if check_locks:
            locks.refuse_new_version(target)
            if move:
                locks.refuse_changing(source, folders=(source.parent,))
        # The source's row, then its current version, read under their locks: a concurrent
        # replace from the same source hands the version over once (the other finds none).
        current = Item.objects.select_for_update().filter(pk=source.pk).values_list("current_version_id", flat=True).first()
        version = FileVersion.objects.select_for_update().filter(pk=current, item=source).first() if current else None
        if version is None:
            raise not_ready(source)
        number = next_version_number(target)
        if move:
            check_may_take_out(actor, source, target.quota_owner_id)
            if source.quota_owner_id != target.quota_owner_id:
                quota.charge(target.quota_owner_id, version.charged_bytes)
                quota.release(source.quota_owner_id, version.charged_bytes)
            Item.objects.filter(pk=source.pk).update(current_version=None)
            FileVersion.objects.filter(pk=version.pk).update(item=target, number=number, via_link=None)
            version.item_id, version.number = target.pk, number
            own_shares = (
                ItemAccess.objects.filter(resource_id=source.pk).exists()
                or ShareLink.objects.filter(item=source, revoked_at__isnull=True).exists()
            )
            if FileVersion.objects.filter(item=source).exists() or own_shares:
                previous = FileVersion.objects.filter(item=source, state=UploadState.READY).order_by("-number").first()
                if previous is not None:
                    make_current(previous)
                else:
                    Item.objects.filter(pk=source.pk).update(upload_state=latest_state(source) or UploadState.PENDING)
                item_trash(actor=actor, item_id=source.pk, check_locks=False)
            else:
                Item.objects.filter(pk=source.pk).delete()
        else:
            version = _copied(actor, target, version, number)
        make_current(version)
        apply_retention(target.pk)
    return access_item(actor, target.pk)


def _copied(actor: Any, item: Item, source: FileVersion, number: int) -> FileVersion:
    """A ready copy of ``source`` (its bytes copied in S3) as version ``number`` of ``item``."""
    store = get_blob_store()
    key = store.new_key("drive")
    quota.charge(item.quota_owner_id, source.size or 0)
    store.copy(source.key, key)
    try:
        return FileVersion.objects.create(
            item=item, number=number, key=key, state=UploadState.READY, declared_size=source.size or 0,
            size=source.size, mimetype=source.mimetype, sha256=source.sha256,
            charged_bytes=source.size or 0, uploaded_by=actor, uploaded_at=timezone.now(),
        )
    except Exception:
        store.delete(key)
        raise


def version_delete(*, actor: Any, item_id: Any, version_id: Any) -> None:
    """Delete one version (not the current one: restore another first; not the only one:
    delete the file). The item's state follows its newest remaining version."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        version = _version_of(item, version_id)
        # The version's row, then the item's (the order an analysis making it current takes
        # them in): what is current is read once nothing can change it any more.
        version = FileVersion.objects.select_for_update().filter(pk=version.pk).first()  # type: ignore[assignment]
        if version is None:  # deleted meanwhile
            raise NotFound(_("No such version."))
        current = Item.objects.select_for_update().filter(pk=item.pk).values_list("current_version_id", flat=True)[0]
        if version.pk == current:
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
