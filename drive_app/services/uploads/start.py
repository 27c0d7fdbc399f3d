"""Starting an upload: a pending version of a file and where its bytes go (one presigned PUT,
or an S3 multipart upload for large files)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import FileVersion, Item, ItemType, UploadState
from drive_app.services import locks
from drive_app.services.items import (
    _sibling_with_title,
    clean_title,
    conflict_after,
    new_child,
    parent_for,
    resolve_title,
    title_conflict,
)
from drive_app.services.uploads.pending import editable_item, next_version_number
from suite.access.resolve import ROLE_ANNOTATION
from suite.errors import SuiteError, ValidationFailed
from suite.storage import (
    MULTIPART_MAX_PART_SIZE,
    MULTIPART_MAX_PARTS,
    PresignedRequest,
    get_blob_store,
    validate_content_type,
)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_POLICIES = ("error", "rename", "version")


class UploadRejected(SuiteError):
    """The uploaded bytes failed a check; the version is kept as ``rejected`` with the reason."""

    status = 422


@dataclass(frozen=True)
class UploadStart:
    item: Item
    version: FileVersion
    upload: PresignedRequest | None  # single PUT
    part_count: int | None = None  # multipart


def validate_declared(size: Any, content_type: Any, sha256: Any) -> tuple[int, str, str]:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValidationFailed(_("size must be a non-negative integer (bytes)."), details={"field": "size"})
    if size > settings.DRIVE_MAX_FILE_BYTES:
        raise SuiteError(
            _("Files are limited to %(max)s bytes.") % {"max": settings.DRIVE_MAX_FILE_BYTES},
            code="file_too_large", status=413,
            details={"field": "size", "max_bytes": settings.DRIVE_MAX_FILE_BYTES},
        )
    content_type = content_type or "application/octet-stream"
    try:
        content_type = validate_content_type(content_type)
    except Exception:  # noqa: BLE001 -- any invalid type is a 422 naming the field
        raise ValidationFailed(_("content_type is not a valid MIME type."), details={"field": "content_type"}) from None
    sha = (sha256 or "").lower()
    if sha and not SHA256.match(sha):
        raise ValidationFailed(_("sha256 must be 64 hexadecimal characters."), details={"field": "sha256"})
    return size, content_type, sha


def part_size_for(size: int) -> int:
    """The part size the server chooses: the configured one, grown so that the file fits in
    S3's 10,000 parts, rounded up to a MiB."""
    mib = 1024 * 1024
    needed = math.ceil(size / MULTIPART_MAX_PARTS)
    chosen = max(settings.DRIVE_MULTIPART_PART_BYTES, math.ceil(needed / mib) * mib)
    return min(chosen, MULTIPART_MAX_PART_SIZE)


def file_create(
    *,
    actor: Any,
    title: Any,
    parent_id: Any = None,
    size: Any,
    content_type: Any = None,
    sha256: Any = None,
    on_conflict: str = "error",
) -> UploadStart:
    """Start uploading a file: a new item, or with ``on_conflict="version"`` a new version of
    the file already holding that title in the folder. Returns where to send the bytes, and
    the item annotated as ``ItemOut`` shows it (no re-read needed)."""
    title = clean_title(title)
    size, content_type, sha = validate_declared(size, content_type, sha256)
    if on_conflict not in UPLOAD_POLICIES:
        raise ValidationFailed(
            _("on_conflict must be one of: %(choices)s.") % {"choices": ", ".join(UPLOAD_POLICIES)},
            details={"field": "on_conflict"},
        )
    key = get_blob_store().new_key("drive")
    try:
        return _file_create(actor, title, parent_id, size, content_type, sha, on_conflict, key)
    except IntegrityError as error:  # the title is taken (no savepoint: see below)
        parent = parent_for(actor, parent_id)
        if failed_upload(_sibling_with_title(parent, title)):
            return _file_create(actor, title, parent_id, size, content_type, sha, "version", key)
        raise conflict_after(error, parent.pk, title) from error


def failed_upload(item: Item | None) -> bool:
    """A file none of whose uploads passed the checks (rejected or infected, kept with its
    reason): its title is not taken for a new upload, which becomes its next version."""
    return (
        item is not None and item.type == ItemType.FILE and item.current_version_id is None
        and item.upload_state in (UploadState.REJECTED, UploadState.INFECTED)
    )


def _file_create(
    actor: Any, title: str, parent_id: Any, size: int, content_type: str, sha: str, on_conflict: str, key: str
) -> UploadStart:
    # Without a savepoint only when this is the outermost transaction (nothing of a caller's
    # is lost when a taken title breaks it).
    savepoint = transaction.get_connection().in_atomic_block
    with transaction.atomic():
        parent = parent_for(actor, parent_id)
        # With "error", the unique constraint alone finds a taken title (new_child: 409,
        # file_create: a failed upload's title is free), unless a savepoint is needed anyway.
        existing = None if on_conflict == "error" and not savepoint else _sibling_with_title(parent, title)
        if existing is not None and (on_conflict == "version" or failed_upload(existing)):
            if existing.type != ItemType.FILE:
                raise title_conflict(existing)
            item = editable_item(actor, existing.pk)
            return start_version(actor, item, size, content_type, sha, key=key)
        if existing is not None:  # taken: a 409, or the first free "name (n)"
            title = resolve_title(parent, title, "rename" if on_conflict == "rename" else "error")
        # The last statements of the transaction: a taken title breaks it (caught above).
        return new_file(parent, actor=actor, title=title, size=size, content_type=content_type, sha=sha, key=key,
                        savepoint=savepoint)


def new_file(
    parent: Item, *, actor: Any, title: str, size: int, content_type: str, sha: str, key: str | None = None,
    savepoint: bool = True, via_link: Any = None,
) -> UploadStart:
    """A new file under ``parent`` (call inside a transaction, title resolved, access checked)
    with its first pending version. The item carries the parent's role annotation when the
    parent has one (a new item has no grant or link of its own). ``via_link``: the share link
    a visitor uploads through (only it may end the upload)."""
    locks.refuse_adding_to(parent)
    quota.check_room(parent.quota_owner_id, size)  # before any row or S3 request
    # S3 work first: the new path locks the parent's row until commit (creates in one folder
    # queue behind each other), so nothing slow may follow it.
    pending = _new_pending(actor, key or get_blob_store().new_key("drive"), size, content_type, sha)
    item = new_child(parent, actor=actor, type=ItemType.FILE, title=title, savepoint=savepoint,
                     upload_state=UploadState.PENDING, mimetype=content_type)
    if hasattr(parent, ROLE_ANNOTATION):
        setattr(item, ROLE_ANNOTATION, getattr(parent, ROLE_ANNOTATION))
    item.is_favorite, item.latest_reason = False, None  # type: ignore[attr-defined]
    version = pending.version
    version.item, version.number, version.via_link = item, 1, via_link
    version.save(force_insert=True)
    return UploadStart(item=item, version=version, upload=pending.upload, part_count=pending.part_count)


def version_create(*, actor: Any, item_id: Any, size: Any, content_type: Any = None, sha256: Any = None) -> UploadStart:
    """Start uploading a new version of an existing file."""
    size, content_type, sha = validate_declared(size, content_type, sha256)
    with transaction.atomic():
        item = editable_item(actor, item_id)
        if item.type != ItemType.FILE:
            raise ValidationFailed(_("Only files have versions."), code="not_a_file")
        return start_version(actor, item, size, content_type, sha)


def start_version(
    actor: Any, item: Item, size: int, content_type: str, sha: str, *, key: str | None = None
) -> UploadStart:
    """A pending new version of the existing file ``item`` and where to send its bytes (the
    caller checked access). A file being edited in an office editor, or locked by a WebDAV
    client, takes no new version through the API until it is unlocked (423)."""
    locks.refuse_new_version(item)
    quota.check_room(item.quota_owner_id, size)
    pending = _new_pending(actor, key or get_blob_store().new_key("drive"), size, content_type, sha)
    version = pending.version
    version.item = item
    version.number = next_version_number(item)
    version.save(force_insert=True)
    Item.objects.filter(pk=item.pk).update(upload_state=UploadState.PENDING, updated_at=timezone.now())
    item.upload_state = UploadState.PENDING
    return UploadStart(item=item, version=version, upload=pending.upload, part_count=pending.part_count)


def _new_pending(actor: Any, key: str, size: int, content_type: str, sha: str) -> UploadStart:
    """An unsaved pending version (no item, no number yet) and where its bytes go: a
    presigned PUT (signing is local), or a multipart upload created in S3."""
    version = FileVersion(
        key=key, declared_size=size, declared_mimetype=content_type, declared_sha256=sha,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    store = get_blob_store()
    if size <= settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES:
        # A declared SHA-256 is signed too: S3 itself refuses other bytes, and reports the
        # verified digest, so a large file needs no read-back for its hash.
        upload = store.presigned_put(key, size=size, content_type=content_type, checksum_sha256=sha or None)
        return UploadStart(item=None, version=version, upload=upload)  # type: ignore[arg-type]
    version.part_size = part_size_for(size)
    version.multipart_upload_id = store.multipart_create(key, content_type=content_type)
    return UploadStart(item=None, version=version, upload=None,  # type: ignore[arg-type]
                       part_count=math.ceil(size / version.part_size))
