"""File bytes: starting uploads (presigned PUT, or S3 multipart for large files), ending them
(checks, quota, analysis, scan), versions, downloads.

The bytes never cross Python on the way in: the client PUTs them to S3 with presigned URLs.
At ``upload-ended`` the server checks what S3 holds (the object exists, its size is the
declared one), charges the quota owner under a row lock, then *analyzes* the bytes, reading
them from S3 once: SHA-256 (compared with the declared one when given), the real type from
the first bytes (``drive_app.filetypes``), and the malware scan. Until all of that passed,
the version is not served (fail closed). Small files are analyzed in the request (so a bad
upload answers with its error at once); large ones in a task.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import filetypes, quota
from drive_app.models import FileVersion, Item, ItemType, UploadState
from drive_app.permissions import access_item
from drive_app.services.items import (
    _sibling_with_title,
    clean_title,
    new_child,
    parent_for,
    resolve_title,
    title_conflict,
)
from suite.access.roles import Perm
from suite.errors import Conflict, NotFound, SuiteError, ValidationFailed
from suite.storage import (
    MULTIPART_MAX_PART_SIZE,
    MULTIPART_MAX_PARTS,
    BlobNotFound,
    BlobUploadInvalid,
    BlobUploadNotFound,
    PresignedRequest,
    UploadedPart,
    get_blob_store,
    validate_content_type,
)

logger = logging.getLogger(__name__)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_POLICIES = ("error", "rename", "version")
#: Bytes read from S3 at a time when analyzing an upload (hash, type, scan in one pass).
READ_CHUNK_BYTES = 1024 * 1024


class UploadRejected(SuiteError):
    """The uploaded bytes failed a check; the version is kept as ``rejected`` with the reason."""

    status = 422


@dataclass(frozen=True)
class UploadStart:
    item: Item
    version: FileVersion
    upload: PresignedRequest | None  # single PUT
    part_count: int | None = None  # multipart


# --- starting an upload ------------------------------------------------------------------------------


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
    the file already holding that title in the folder. Returns where to send the bytes."""
    title = clean_title(title)
    size, content_type, sha = validate_declared(size, content_type, sha256)
    if on_conflict not in UPLOAD_POLICIES:
        raise ValidationFailed(
            _("on_conflict must be one of: %(choices)s.") % {"choices": ", ".join(UPLOAD_POLICIES)},
            details={"field": "on_conflict"},
        )
    with transaction.atomic():
        parent = parent_for(actor, parent_id)
        existing = _sibling_with_title(parent, title)
        if existing is not None and on_conflict == "version":
            if existing.type != ItemType.FILE:
                raise title_conflict(existing)
            item = access_item(actor, existing.pk, need=Perm.EDIT)
        else:
            if existing is not None:  # taken: a 409, or the first free "name (n)"
                title = resolve_title(parent, title, "rename" if on_conflict == "rename" else "error")
            quota.check_room(parent.quota_owner_id, size)  # before any row or S3 request
            item = new_child(parent, actor=actor, type=ItemType.FILE, title=title,
                             upload_state=UploadState.PENDING, mimetype=content_type)
            return start_version(actor, item, size, content_type, sha, new_item=True)
        return start_version(actor, item, size, content_type, sha)


def version_create(*, actor: Any, item_id: Any, size: Any, content_type: Any = None, sha256: Any = None) -> UploadStart:
    """Start uploading a new version of an existing file."""
    size, content_type, sha = validate_declared(size, content_type, sha256)
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        if item.type != ItemType.FILE:
            raise ValidationFailed(_("Only files have versions."), code="not_a_file")
        return start_version(actor, item, size, content_type, sha)


def start_version(
    actor: Any, item: Item, size: int, content_type: str, sha: str, *, new_item: bool = False
) -> UploadStart:
    """A pending version of ``item`` and where to send its bytes (the caller checked access;
    ``new_item``: just created in this transaction, pending, quota room already checked)."""
    if not new_item:
        quota.check_room(item.quota_owner_id, size)
    store = get_blob_store()
    key = store.new_key("drive")
    if new_item:
        number = 1
    else:
        number = (FileVersion.objects.filter(item=item).aggregate(n=Max("number"))["n"] or 0) + 1
    version = FileVersion(
        item=item, number=number, key=key, declared_size=size, declared_mimetype=content_type,
        declared_sha256=sha, uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    upload: PresignedRequest | None = None
    part_count = None
    if size <= settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES:
        upload = store.presigned_put(key, size=size, content_type=content_type)
    else:
        version.part_size = part_size_for(size)
        version.multipart_upload_id = store.multipart_create(key, content_type=content_type)
        part_count = math.ceil(size / version.part_size)
    version.save()
    if not new_item:
        Item.objects.filter(pk=item.pk).update(upload_state=UploadState.PENDING, updated_at=timezone.now())
        item.upload_state = UploadState.PENDING
    return UploadStart(item=item, version=version, upload=upload, part_count=part_count)


# --- multipart ---------------------------------------------------------------------------------------------


def pending_version(actor: Any, item_id: Any, *, include_deleted: bool = False) -> tuple[Item, FileVersion]:
    """The item and its newest upload still waiting for bytes (EDIT needed)."""
    item = access_item(actor, item_id, need=Perm.EDIT, include_deleted=include_deleted)
    return item, pending_upload_of(item)


def pending_upload_of(item: Item) -> FileVersion:
    """The newest upload of ``item`` still waiting for bytes (the caller checked access)."""
    version = FileVersion.objects.filter(item=item, state=UploadState.PENDING).order_by("-number").first()
    if version is None:
        raise Conflict(_("No upload is waiting for bytes on this item."), code="no_pending_upload")
    return version


def _multipart(actor: Any, item_id: Any) -> tuple[Item, FileVersion]:
    item, version = pending_version(actor, item_id)
    return item, multipart_version(version)


def multipart_version(version: FileVersion) -> FileVersion:
    if not version.multipart_upload_id:
        raise Conflict(_("This upload is a single PUT, not a multipart upload."), code="not_multipart")
    return version


def multipart_part_urls(*, actor: Any, item_id: Any, part_numbers: list[int]) -> tuple[FileVersion, list[tuple[int, PresignedRequest]]]:
    """Presigned URLs for the given parts (each part's length is signed: all parts are
    ``part_size`` long but the last)."""
    _item, version = _multipart(actor, item_id)
    return version, part_urls_for(version, part_numbers)


def part_urls_for(version: FileVersion, part_numbers: list[int]) -> list[tuple[int, PresignedRequest]]:
    """Presigned URLs for parts of a multipart ``version`` (the caller checked access)."""
    assert version.part_size is not None
    count = math.ceil(version.declared_size / version.part_size)
    if not part_numbers or len(part_numbers) > 1000:
        raise ValidationFailed(_("Ask for 1 to 1000 parts at a time."), details={"field": "parts"})
    urls = []
    store = get_blob_store()
    for number in part_numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
            raise ValidationFailed(
                _("Part numbers go from 1 to %(count)s.") % {"count": count},
                code="part_out_of_range", details={"field": "parts", "part": number, "part_count": count},
            )
        length = version.part_size if number < count else version.declared_size - version.part_size * (count - 1)
        urls.append((number, store.multipart_part_url(version.key, version.multipart_upload_id, number, size=length)))
    return urls


def multipart_parts(*, actor: Any, item_id: Any) -> tuple[FileVersion, list[UploadedPart]]:
    """The parts S3 already holds: what a client resuming after a disconnect skips."""
    _item, version = _multipart(actor, item_id)
    try:
        parts = get_blob_store().multipart_list_parts(version.key, version.multipart_upload_id)
    except BlobUploadNotFound:
        raise Conflict(_("This upload no longer exists; start a new one."), code="upload_gone") from None
    return version, parts


def multipart_abort(*, actor: Any, item_id: Any) -> None:
    """Give up a multipart upload: S3 drops its parts; a brand-new file disappears."""
    with transaction.atomic():
        item, version = _multipart(actor, item_id)
        _forget_pending(item, version)


def _forget_pending(item: Item, version: FileVersion) -> None:
    """Delete a pending version (and its item when it was the file's first upload); S3
    resources go after commit."""
    key, upload_id = version.key, version.multipart_upload_id
    version.delete()
    first_upload = not FileVersion.objects.filter(item=item).exists()
    if first_upload:
        Item.objects.filter(pk=item.pk).delete()
    else:
        Item.objects.filter(pk=item.pk).update(upload_state=_latest_state(item))
    transaction.on_commit(lambda: _drop_upload(key, upload_id))


def _drop_upload(key: str, upload_id: str) -> None:
    store = get_blob_store()
    if upload_id:
        with contextlib.suppress(BlobUploadNotFound, BlobNotFound):
            store.multipart_abort(key, upload_id)
    store.delete(key)


def _latest_state(item: Item) -> str | None:
    latest = FileVersion.objects.filter(item=item).order_by("-number").values_list("state", flat=True).first()
    return latest


# --- ending an upload -----------------------------------------------------------------------------------------


def upload_ended(*, actor: Any, item_id: Any, parts: list[UploadedPart] | None = None) -> Item:
    """The client says the bytes are in S3: complete a multipart upload, check the object,
    charge the quota, then analyze (in the request for small files, else in a task).

    A refused upload (size mismatch, quota) is recorded as ``rejected`` with its reason and
    its object deleted, then the error is raised: the rejection is committed, not rolled back."""
    item, version = pending_version(actor, item_id)
    end_upload(item, version, parts)
    return access_item(actor, item.pk)


def end_upload(item: Item, version: FileVersion, parts: list[UploadedPart] | None = None) -> Item:
    """:func:`upload_ended` once the caller has checked access and found the version
    (share links check their subtree instead of a role). Returns the item as it now is."""
    from drive_app import tasks

    refusal: SuiteError | None = None
    with transaction.atomic():
        version = FileVersion.objects.select_for_update().get(pk=version.pk)
        if version.state != UploadState.PENDING:  # a concurrent call ended it first
            raise Conflict(_("This upload has already ended."), code="no_pending_upload")
        store = get_blob_store()
        if version.multipart_upload_id:
            _check_parts_complete(item, version, parts)
            try:
                store.multipart_complete(version.key, version.multipart_upload_id, parts)
            except BlobUploadInvalid as exc:
                raise ValidationFailed(
                    _("The upload cannot be completed: %(reason)s") % {"reason": exc},
                    code="upload_incomplete", details={"item": str(item.pk)},
                ) from None
            except BlobUploadNotFound:
                pass  # completed by an earlier call whose answer was lost, or aborted: see below
        try:
            info = store.head(version.key)
        except BlobNotFound:
            raise Conflict(_("No bytes were uploaded for this file yet."), code="upload_missing") from None
        if info.size != version.declared_size:
            refusal = UploadRejected(
                _("The uploaded file has %(got)s bytes, %(declared)s were declared.")
                % {"got": info.size, "declared": version.declared_size},
                code="size_mismatch",
                details={"item": str(item.pk), "size": info.size, "declared_size": version.declared_size},
            )
        else:
            try:  # a refusal is raised after plain queries: the transaction stays usable
                quota.charge(item.quota_owner_id, info.size)
            except quota.QuotaExceeded as exc:
                exc.details["item"] = str(item.pk)
                refusal = exc
        if refusal is not None:
            _reject(version, refusal.code, refusal.message)
            key = version.key
            transaction.on_commit(lambda: get_blob_store().delete(key))
        else:
            FileVersion.objects.filter(pk=version.pk).update(
                state=UploadState.ANALYZING, size=info.size, charged_bytes=info.size,
                multipart_upload_id="", uploaded_at=timezone.now(),
            )
            Item.objects.filter(pk=item.pk).update(upload_state=UploadState.ANALYZING, updated_at=timezone.now())
            if info.size > settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES:
                version_id = version.pk
                transaction.on_commit(lambda: tasks.analyze_version.delay(str(version_id)))
    if refusal is not None:
        raise refusal
    if info.size <= settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES:
        from drive_app.scanning import ScannerError

        try:
            analyze(version.pk)
        except ScannerError:
            # Fail closed: the file stays "analyzing" (not served); the periodic
            # resume_analysis task scans it again once the scanner answers.
            logger.exception("scanner unavailable", extra={"version": str(version.pk)})
        version.refresh_from_db()
        if version.state == UploadState.REJECTED:
            code, _sep, reason = version.state_reason.partition(":")
            raise UploadRejected(reason.strip() or code, code=code, details={"item": str(item.pk)})
    return Item.objects.get(pk=item.pk)


def file_write(
    *,
    actor: Any,
    body: Any,
    size: int | None = None,
    content_type: str | None = None,
    item_id: Any = None,
    parent_id: Any = None,
    title: Any = None,
    create_only: bool = False,
) -> Item:
    """Bytes that reach the server itself (WebDAV PUT, WOPI PutFile): a new version of file
    ``item_id``, or the file titled ``title`` in folder ``parent_id`` (a new version when it
    exists, a new file otherwise). ``body`` (a file-like object, read in chunks) goes to S3
    as it arrives, in parts above the store's threshold, never whole in memory or on disk;
    then the same checks as ``upload-ended`` apply (size, quota, SHA-256, type, scan).
    ``size`` may be unknown (chunked transfer): the quota is then checked after the fact.
    ``create_only``: a file that already holds the title is a 409 conflict, not a version."""
    declared_type = content_type or "application/octet-stream"
    with transaction.atomic():
        if item_id is not None:
            item = access_item(actor, item_id, need=Perm.EDIT)
            if item.type != ItemType.FILE:
                raise ValidationFailed(_("Only files have contents."), code="not_a_file")
        else:
            clean = clean_title(title)
            parent = parent_for(actor, parent_id)
            existing = _sibling_with_title(parent, clean)
            if existing is not None:
                if existing.type != ItemType.FILE or create_only:
                    raise title_conflict(existing)
                item = access_item(actor, existing.pk, need=Perm.EDIT)
            else:
                item = new_child(parent, actor=actor, type=ItemType.FILE, title=clean,
                                 upload_state=UploadState.PENDING, mimetype=declared_type)
        if size is not None:
            size, declared_type, _sha = validate_declared(size, declared_type, None)
            quota.check_room(item.quota_owner_id, size)
        store = get_blob_store()
        number = (FileVersion.objects.filter(item=item).aggregate(n=Max("number"))["n"] or 0) + 1
        version = FileVersion.objects.create(
            item=item, number=number, key=store.new_key("drive"), declared_size=size if size is not None else -1,
            declared_mimetype=declared_type,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        Item.objects.filter(pk=item.pk).update(upload_state=UploadState.PENDING, updated_at=timezone.now())
    try:
        info = store.put(version.key, body, size=size, content_type=declared_type)
    except BaseException as exc:
        with transaction.atomic():
            _forget_pending(item, version)
        if isinstance(exc, BlobUploadInvalid):
            raise ValidationFailed(
                _("The body does not have the announced length."), code="size_mismatch",
                details={"declared_size": size},
            ) from None
        raise
    if info.size > settings.DRIVE_MAX_FILE_BYTES:
        with transaction.atomic():
            _forget_pending(item, version)
        raise SuiteError(_("Files are limited to %(max)s bytes.") % {"max": settings.DRIVE_MAX_FILE_BYTES},
                         code="file_too_large", status=413)
    FileVersion.objects.filter(pk=version.pk).update(declared_size=info.size)
    version.declared_size = info.size
    end_upload(item, version)
    return access_item(actor, item.pk)


def resume_analysis(*, older_than: dt.timedelta = dt.timedelta(minutes=2)) -> int:
    """Analyze again the versions left ``analyzing`` (scanner down, worker lost)."""
    from drive_app.scanning import ScannerError

    cutoff = timezone.now() - older_than
    done = 0
    for version_id in FileVersion.objects.filter(state=UploadState.ANALYZING, uploaded_at__lt=cutoff).values_list("pk", flat=True)[:500]:
        try:
            analyze(version_id)
            done += 1
        except ScannerError:
            logger.warning("scanner still unavailable")
            break
    return done


def _check_parts_complete(item: Item, version: FileVersion, parts: list[UploadedPart] | None) -> None:
    """Every part of the declared size must be in S3 (at its expected length) before the
    upload is assembled; otherwise 422 ``upload_incomplete`` naming the missing parts, and the
    upload stays open so the client can send them."""
    assert version.part_size is not None
    count = math.ceil(version.declared_size / version.part_size) or 1
    try:
        held = {p.number: p for p in get_blob_store().multipart_list_parts(version.key, version.multipart_upload_id)}
    except BlobUploadNotFound:
        return  # completed by an earlier call whose answer was lost, or aborted: the object decides
    wanted = {p.number for p in parts} if parts is not None else set(range(1, count + 1))
    missing = []
    for number in range(1, count + 1):
        expected = version.part_size if number < count else version.declared_size - version.part_size * (count - 1)
        part = held.get(number)
        if number not in wanted or part is None or part.size != expected:
            missing.append(number)
    extra = sorted(n for n in wanted if n > count or n < 1)
    if missing or extra:
        raise ValidationFailed(
            _("The upload is not complete: %(count)s part(s) missing or of the wrong size.") % {"count": len(missing)},
            code="upload_incomplete",
            details={"item": str(item.pk), "missing_parts": missing[:100], "unexpected_parts": extra[:100],
                     "part_count": count},
        )


def _reject(version: FileVersion, code: str, reason: str) -> None:
    FileVersion.objects.filter(pk=version.pk).update(
        state=UploadState.REJECTED, state_reason=f"{code}: {reason}"[:255], multipart_upload_id=""
    )
    Item.objects.filter(pk=version.item_id).update(upload_state=UploadState.REJECTED)


def analyze(version_id: Any) -> str:
    """Read the bytes once from S3, feeding at the same time the SHA-256, the type detection
    (first bytes) and the scanner. Idempotent (a version that is no longer ``analyzing`` is
    left alone). Returns the version's final state. Verdicts, most serious first: infected,
    then a checksum mismatch, then a refused type."""
    from drive_app import scanning

    version = FileVersion.objects.select_related("item").filter(pk=version_id).first()
    if version is None or version.state != UploadState.ANALYZING:
        return version.state if version is not None else "gone"
    scanner = scanning.get_scanner()
    digest = hashlib.sha256()
    head = bytearray()

    def chunks(reader: Any) -> Any:
        for chunk in reader.iter_chunks(READ_CHUNK_BYTES):
            if len(head) < filetypes.SNIFF_BYTES:
                head.extend(chunk[: filetypes.SNIFF_BYTES - len(head)])
            digest.update(chunk)
            yield chunk

    with get_blob_store().open(version.key) as reader:
        stream = chunks(reader)
        try:
            result = scanner.scan(stream)  # ScannerError propagates: retried later, fail closed
        except scanning.ScanLimitExceeded:
            # Fail closed for good: a file the scanner refuses to read is never served.
            return _finish_rejected(version, "scan_limit_exceeded", "the file is larger than the scanner accepts")
        for _rest in stream:  # what the scanner did not read (the no-op one reads nothing)
            pass
    if not result.clean:
        return _finish_infected(version, result.signature)
    sha = digest.hexdigest()
    if version.declared_sha256 and sha != version.declared_sha256:
        return _finish_rejected(version, "checksum_mismatch",
                                f"the SHA-256 of the uploaded bytes is {sha}, not the declared one")
    verdict = filetypes.check(version.item.title, bytes(head), version.declared_mimetype)
    if not verdict.allowed:
        return _finish_rejected(version, verdict.code, verdict.reason)
    FileVersion.objects.filter(pk=version.pk).update(sha256=sha, mimetype=verdict.mimetype)
    return _finish_ready(version.pk)


def _finish_rejected(version: FileVersion, code: str, reason: str) -> str:
    with transaction.atomic():
        _reject(version, code, reason)
        quota.release(version.item.quota_owner_id, version.charged_bytes)
        FileVersion.objects.filter(pk=version.pk).update(charged_bytes=0)
        key = version.key
        transaction.on_commit(lambda: get_blob_store().delete(key))
    return UploadState.REJECTED


def _finish_infected(version: FileVersion, signature: str) -> str:
    """Kept aside (the object stays, for the administrators; it is never served) and the
    uploader is told."""
    from drive_app import notifications

    with transaction.atomic():
        FileVersion.objects.filter(pk=version.pk).update(
            state=UploadState.INFECTED, state_reason=f"infected: {signature}"[:255]
        )
        Item.objects.filter(pk=version.item_id).update(upload_state=UploadState.INFECTED)
        transaction.on_commit(lambda: notifications.infected_file(version.pk))
    logger.warning("infected upload kept aside", extra={"version": str(version.pk), "signature": signature})
    return UploadState.INFECTED


def _finish_ready(version_id: Any) -> str:
    from drive_app import tasks

    with transaction.atomic():
        version = FileVersion.objects.select_for_update().select_related("item").get(pk=version_id)
        item = version.item
        FileVersion.objects.filter(pk=version.pk).update(state=UploadState.READY, state_reason="")
        newest_ready = (
            FileVersion.objects.filter(item=item, state=UploadState.READY).order_by("-number").first()
        )
        fields: dict[str, Any] = {"upload_state": _latest_state(item), "updated_at": timezone.now()}
        if newest_ready is not None and newest_ready.pk == version.pk:
            fields.update(current_version=version, size=version.size, mimetype=version.mimetype,
                          sha256=version.sha256)
        Item.objects.filter(pk=item.pk).update(**fields)
        apply_retention(item, newest_number=version.number)
        from drive_app.previews import supports

        if supports(version.mimetype):  # no task for types that never get a preview
            version_pk = version.pk
            transaction.on_commit(lambda: tasks.make_preview.delay(str(version_pk)))
    return UploadState.READY


# --- versions -----------------------------------------------------------------------------------------------


def apply_retention(item: Item, *, newest_number: int | None = None) -> int:
    """Delete ready versions beyond ``DRIVE_VERSIONS_KEEP`` (and older than
    ``DRIVE_VERSIONS_MAX_DAYS`` when set), never the current one. Returns how many.
    ``newest_number``: version numbers only grow, so a file whose newest version number is
    within the limit cannot hold too many (no query)."""
    if newest_number is not None and newest_number <= settings.DRIVE_VERSIONS_KEEP and not settings.DRIVE_VERSIONS_MAX_DAYS:
        return 0
    ready = FileVersion.objects.filter(item=item, state=UploadState.READY).order_by("-number")
    current = Item.objects.filter(pk=item.pk).values_list("current_version", flat=True).first()
    doomed = list(ready.exclude(pk=current)[max(0, settings.DRIVE_VERSIONS_KEEP - 1):])
    if settings.DRIVE_VERSIONS_MAX_DAYS:
        cutoff = timezone.now() - dt.timedelta(days=settings.DRIVE_VERSIONS_MAX_DAYS)
        doomed += [v for v in ready.exclude(pk=current).filter(created_at__lt=cutoff) if v not in doomed]
    for version in doomed:
        _delete_version_row(item, version)
    return len(doomed)


def _delete_version_row(item: Item, version: FileVersion) -> None:
    quota.release(item.quota_owner_id, version.charged_bytes)
    keys = [k for k in (version.key, version.preview_key) if k]
    version.delete()
    transaction.on_commit(lambda: get_blob_store().delete_many(keys))


def version_restore(*, actor: Any, item_id: Any, version_id: Any) -> Item:
    """Make an older version current again, as a new version (a server-side copy), so the
    history keeps what was current before."""
    store = get_blob_store()
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        source = _version_of(item, version_id, ready=True)
        key = store.new_key("drive")
        number = (FileVersion.objects.filter(item=item).aggregate(n=Max("number"))["n"] or 0) + 1
        quota.charge(item.quota_owner_id, source.size or 0)
        store.copy(source.key, key)
        transaction.on_commit(lambda: None)
        try:
            version = FileVersion.objects.create(
                item=item, number=number, key=key, state=UploadState.READY, declared_size=source.size or 0,
                size=source.size, mimetype=source.mimetype, sha256=source.sha256,
                charged_bytes=source.size or 0, uploaded_by=actor, uploaded_at=timezone.now(),
            )
        except Exception:
            store.delete(key)
            raise
        Item.objects.filter(pk=item.pk).update(
            current_version=version, size=version.size, mimetype=version.mimetype, sha256=version.sha256,
            upload_state=UploadState.READY, updated_at=timezone.now(),
        )
        apply_retention(item)
    return access_item(actor, item.pk)


def version_delete(*, actor: Any, item_id: Any, version_id: Any) -> None:
    """Delete one version (not the current one: restore another first)."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT)
        version = _version_of(item, version_id)
        if version.pk == item.current_version_id:
            raise Conflict(_("The current version cannot be deleted."), code="current_version")
        if version.state == UploadState.PENDING:
            _forget_pending(item, version)
            return
        _delete_version_row(item, version)


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
    from drive_app.services.items import item_visit

    item = access_item(actor, item_id, need=Perm.VIEW)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Folders are downloaded as a ZIP archive."), code="not_a_file")
    if version_id is not None:
        version = _version_of(item, version_id, ready=True)
    elif item.current_version_id is None:
        raise Conflict(_("This file is not available: %(state)s.") % {"state": item.upload_state},
                       code="file_not_ready", details={"upload_state": item.upload_state})
    else:
        version = FileVersion.objects.get(pk=item.current_version_id)
    item_visit(actor=actor, item=item)
    return get_blob_store().presigned_get(version.key, filename=item.title, content_type=version.mimetype,
                                          inline=inline)


def clean_incomplete_uploads(*, now: dt.datetime | None = None) -> int:
    """Forget uploads still pending after ``DRIVE_INCOMPLETE_UPLOAD_HOURS`` (rows, parts,
    objects), and abort multipart uploads S3 holds for keys no row knows. Returns how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.DRIVE_INCOMPLETE_UPLOAD_HOURS)
    cleaned = 0
    for version_id in FileVersion.objects.filter(state=UploadState.PENDING, created_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            version = FileVersion.objects.select_for_update(skip_locked=True).select_related("item").filter(
                pk=version_id, state=UploadState.PENDING).first()
            if version is not None:
                _forget_pending(version.item, version)
                cleaned += 1
    store = get_blob_store()
    known = set(FileVersion.objects.exclude(multipart_upload_id="").values_list("multipart_upload_id", flat=True))
    age = (now or timezone.now()) - cutoff
    for upload in store.multipart_list_uploads("drive/", older_than=age):
        if upload.upload_id not in known:
            with contextlib.suppress(BlobUploadNotFound, BlobNotFound):
                store.multipart_abort(upload.key, upload.upload_id)
                cleaned += 1
    return cleaned


__all__ = [
    "UploadRejected",
    "UploadStart",
    "analyze",
    "clean_incomplete_uploads",
    "download_url",
    "file_create",
    "multipart_abort",
    "multipart_part_urls",
    "multipart_parts",
    "part_size_for",
    "upload_ended",
    "version_create",
    "version_delete",
    "version_restore",
]
