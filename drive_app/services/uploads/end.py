"""Ending an upload: the bytes are in S3 (sent there by the client), or the server is
writing them itself (WebDAV PUT, WOPI PutFile). Checks, quota, then the verdict.

At ``upload-ended`` the server reads what S3 holds once: one GET of the first bytes (the
whole file up to ``DRIVE_INLINE_ANALYSIS_BYTES``) gives the object's size and its head. The
size must be the declared one, the real type (``drive_app.filetypes``) must be accepted, and
the quota owner is charged with one conditional UPDATE (parallel uploads cannot overshoot).
A file read whole is hashed and scanned there and answers ``ready`` (or its refusal) at once;
a larger one answers ``analyzing`` and a task hashes and scans it, except when the store
verified a declared SHA-256 at upload and the scanner is the no-op one: nothing is left to
read, it is ``ready`` at once. Until a version is ready it is never served (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import filetypes, quota
from drive_app.models import FileVersion, Item, ItemType, UploadState
from drive_app.services.items import (
    _sibling_with_title,
    clean_title,
    new_child,
    parent_for,
    title_conflict,
)
from drive_app.services.uploads.analysis import (
    Refusal,
    Verdict,
    analyze,
    mark_ready,
    reject,
    settle,
    verdict,
)
from drive_app.services.uploads.multipart import check_parts_complete
from drive_app.services.uploads.pending import (
    editable_item,
    forget_pending,
    next_version_number,
    pending_upload_of,
)
from drive_app.services.uploads.start import UploadRejected, validate_declared
from suite.access.resolve import ROLE_ANNOTATION
from suite.access.roles import Perm, role_allows
from suite.errors import Conflict, PermissionDenied, SuiteError, ValidationFailed
from suite.storage import (
    BlobNotFound,
    BlobRangeNotSatisfiable,
    BlobStore,
    BlobUploadInvalid,
    BlobUploadNotFound,
    UploadedPart,
    get_blob_store,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """What the server learnt of bytes it wrote to S3 itself: their ``size`` and SHA-256,
    their first bytes, and ``whole`` (all of them) when they were few enough to keep."""

    size: int
    sha256: str
    head: bytes
    whole: bytes | None


def upload_ended(*, actor: Any, item_id: Any, parts: list[UploadedPart] | None = None) -> Item:
    """The client says the bytes are in S3: complete a multipart upload, check the object,
    charge the quota, then judge the bytes (see the module docstring). Returns the item as it
    now is, annotated for ``ItemOut``.

    A refused upload (size, type, checksum, quota) is recorded as ``rejected`` with its reason
    and its object deleted, then the error is raised: the rejection is committed."""
    return end_upload(editable_item(actor, item_id), parts=parts)


def end_upload(
    item: Item,
    version: FileVersion | None = None,
    parts: list[UploadedPart] | None = None,
    *,
    received: Received | None = None,
    read_back_up_to: int = 0,
) -> Item:
    """:func:`upload_ended` once the caller has checked access (share links check their
    subtree instead of a role). ``version``: the pending upload to end (default: the item's
    newest). ``received``: the server wrote the bytes itself (nothing to read back for the
    hash). ``read_back_up_to``: versions left to analyze up to this size are read back in
    this call rather than in a task. Returns ``item`` with its new state."""
    from drive_app import tasks
    from drive_app.scanning import ScanLimitExceeded, ScannerError, get_scanner

    refusal: SuiteError | None = None
    scanner = get_scanner()
    with transaction.atomic():
        version = _lock_pending(item, version)
        version.item = item
        store = get_blob_store()
        if version.multipart_upload_id:
            _complete_multipart(store, item, version, parts)
        if received is not None:
            size, head, whole, sha = received.size, received.head, received.whole, received.sha256
        else:
            size, head, whole = _probe(store, version)
            sha = hashlib.sha256(whole).hexdigest() if whole is not None else ""
        judged: Verdict | None = None
        if size != version.declared_size:
            refusal = UploadRejected(
                _("The uploaded file has %(got)s bytes, %(declared)s were declared.")
                % {"got": size, "declared": version.declared_size},
                code="size_mismatch",
                details={"item": str(item.pk), "size": size, "declared_size": version.declared_size},
            )
        else:
            if not sha and version.declared_sha256 and not scanner.reads_bytes:
                sha = _verified_sha256(store, version)  # what S3 checked at upload, if it did
            scan = None
            if whole is not None and scanner.reads_bytes:
                try:
                    scan = scanner.scan([whole])
                except ScanLimitExceeded:
                    judged = Verdict(refusal=Refusal("scan_limit_exceeded", "the file is larger than the scanner accepts"))
                except ScannerError:
                    logger.exception("scanner unavailable", extra={"version": str(version.pk)})
            if judged is None:
                if sha and (scan is not None or not scanner.reads_bytes):
                    judged = verdict(version, item.title, sha256=sha, head=head, scan=scan)
                else:  # the type can be judged now; the hash and scan wait for a full read
                    typed = filetypes.check(item.title, head, version.declared_mimetype)
                    if not typed.allowed:
                        judged = Verdict(refusal=Refusal(typed.code, typed.reason))
            if judged is not None and judged.refusal is not None:
                refusal = UploadRejected(judged.refusal.reason, code=judged.refusal.code,
                                         details={"item": str(item.pk)})
            else:
                try:  # a refusal is raised after plain queries: the transaction stays usable
                    quota.charge(item.quota_owner_id, size)
                except quota.QuotaExceeded as exc:
                    exc.details["item"] = str(item.pk)
                    refusal = exc
        if refusal is not None:
            reject(version, Refusal(refusal.code, refusal.message))
            item.upload_state = UploadState.REJECTED
            item.latest_reason = f"{refusal.code}: {refusal.message}"[:255]  # type: ignore[attr-defined]
        else:
            now = timezone.now()
            accepted = {"size": size, "charged_bytes": size, "multipart_upload_id": "", "uploaded_at": now}
            version.size, version.charged_bytes = size, size
            if judged is not None and not judged.infected:  # ready, in the same transaction
                for name, value in mark_ready(version, judged.sha256, judged.mimetype, **accepted).items():
                    setattr(item, name, value)
                item.latest_reason = ""  # type: ignore[attr-defined]
            else:
                FileVersion.objects.filter(pk=version.pk).update(state=UploadState.ANALYZING, **accepted)
                version.state = UploadState.ANALYZING
                if judged is not None:  # infected: kept aside, never served
                    settle(version, judged)
                    item.upload_state = UploadState.INFECTED
                    item.latest_reason = f"infected: {judged.infected}"[:255]  # type: ignore[attr-defined]
                else:  # the hash and the scan need a full read
                    Item.objects.filter(pk=item.pk).update(upload_state=UploadState.ANALYZING, updated_at=now)
                    item.upload_state, item.updated_at = UploadState.ANALYZING, now
                    if size > read_back_up_to:
                        version_id = version.pk
                        transaction.on_commit(lambda: tasks.analyze_version.delay(str(version_id)))
    if refusal is not None:
        raise refusal
    if version.state == UploadState.ANALYZING:
        if size <= read_back_up_to:
            try:
                analyze(version.pk)
            except ScannerError:
                # Fail closed: the file stays "analyzing" (not served); the periodic
                # resume_analysis task scans it again once the scanner answers.
                logger.exception("scanner unavailable", extra={"version": str(version.pk)})
        elif not settings.CELERY_TASK_ALWAYS_EAGER:
            return item
        # Analyzed by now (here, or by the task run in process when the transaction
        # committed): answer with the outcome, a refusal as an error like the inline checks.
        _refreshed(item, version)
        if version.state == UploadState.REJECTED:
            code, _sep, reason = item.latest_reason.partition(":")  # type: ignore[attr-defined]
            raise UploadRejected(reason.strip() or code, code=code, details={"item": str(item.pk)})
    return item


def _lock_pending(item: Item, version: FileVersion | None) -> FileVersion:
    if version is None:
        return pending_upload_of(item, lock=True)
    locked = FileVersion.objects.select_for_update().get(pk=version.pk)
    if locked.state != UploadState.PENDING:  # a concurrent call ended it first
        raise Conflict(_("This upload has already ended."), code="no_pending_upload")
    return locked


def _complete_multipart(store: BlobStore, item: Item, version: FileVersion, parts: list[UploadedPart] | None) -> None:
    check_parts_complete(item, version, parts)
    try:
        store.multipart_complete(version.key, version.multipart_upload_id, parts)
    except BlobUploadInvalid as exc:
        # S3's own words stay in the details (English, technical); the message is ours.
        raise ValidationFailed(
            _("The parts cannot be assembled: an ETag does not match the part S3 holds, or a part "
              "is too small. List the uploaded parts and send the missing or corrected ones."),
            code="upload_incomplete", details={"item": str(item.pk), "reason": str(exc)},
        ) from None
    except BlobUploadNotFound:
        pass  # completed by an earlier call whose answer was lost, or aborted: the object decides


def _probe(store: BlobStore, version: FileVersion) -> tuple[int, bytes, bytes | None]:
    """One GET: the object's size, its first bytes, and all of them when it is small enough
    to be judged in the request (``DRIVE_INLINE_ANALYSIS_BYTES``)."""
    inline = version.declared_size <= settings.DRIVE_INLINE_ANALYSIS_BYTES
    want = max(filetypes.SNIFF_BYTES, version.declared_size if inline else 0)
    try:
        with store.open(version.key, range=(0, max(want, 1) - 1)) as reader:
            data = reader.read()
            size = reader.info.size
    except BlobRangeNotSatisfiable:  # an empty object has no first byte
        try:
            size, data = store.head(version.key).size, b""
        except BlobNotFound:
            raise Conflict(_("No bytes were uploaded for this file yet."), code="upload_missing") from None
    except BlobNotFound:
        raise Conflict(_("No bytes were uploaded for this file yet."), code="upload_missing") from None
    whole = data if inline and len(data) == size else None
    return size, data[: filetypes.SNIFF_BYTES], whole


def _verified_sha256(store: BlobStore, version: FileVersion) -> str:
    """The declared SHA-256 when S3 verified it at upload (the presigned PUT signed it and
    the object reports the same full-object checksum), else ""."""
    try:
        stored = store.head(version.key).sha256
    except BlobNotFound:
        return ""
    return stored if stored == version.declared_sha256 else ""


def _refreshed(item: Item, version: FileVersion) -> Item:
    fields = ("current_version_id", "size", "mimetype", "sha256", "upload_state", "updated_at")
    values = Item.objects.filter(pk=item.pk).values_list(*fields).first()
    if values is not None:
        for name, value in zip(fields, values, strict=True):
            setattr(item, name, value)
    state, reason = FileVersion.objects.filter(pk=version.pk).values_list("state", "state_reason").first() or ("", "")
    item.latest_reason = reason  # type: ignore[attr-defined]
    version.state = state
    return item


def file_write(
    *,
    actor: Any,
    body: Any,
    size: int | None = None,
    content_type: str | None = None,
    item_id: Any = None,
    parent_id: Any = None,
    parent: Item | None = None,
    title: Any = None,
    create_only: bool = False,
) -> Item:
    """Bytes that reach the server itself (WebDAV PUT, WOPI PutFile): a new version of file
    ``item_id``, or the file titled ``title`` in folder ``parent_id`` (a new version when it
    exists, a new file otherwise). ``body`` (a file-like object, read in chunks) goes to S3
    as it arrives, in parts above the store's threshold, never whole in memory or on disk,
    hashed on the way; then the same checks as ``upload-ended`` apply (size, quota, type,
    scan). ``size`` may be unknown (chunked transfer): the body is then cut off once it
    passes the room left in the quota (507) or the size limit (413). ``create_only``: a file that already holds the title is a 409 conflict, not a
    version. ``parent``: the folder already fetched with the actor's role (instead of
    ``parent_id``)."""
    declared_type = content_type or "application/octet-stream"
    created = False
    with transaction.atomic():
        if item_id is not None:
            item = editable_item(actor, item_id)
            if item.type != ItemType.FILE:
                raise ValidationFailed(_("Only files have contents."), code="not_a_file")
        else:
            clean = clean_title(title)
            parent = parent_for(actor, parent_id) if parent is None else _writable_folder(parent)
            existing = _sibling_with_title(parent, clean)
            if existing is not None:
                if existing.type != ItemType.FILE or create_only:
                    raise title_conflict(existing)
                item = editable_item(actor, existing.pk)
            else:
                item = new_child(parent, actor=actor, type=ItemType.FILE, title=clean,
                                 upload_state=UploadState.PENDING, mimetype=declared_type)
                # No grant or link of its own: the actor's role on it is the parent's.
                setattr(item, ROLE_ANNOTATION, getattr(parent, ROLE_ANNOTATION))
                item.is_favorite = False  # type: ignore[attr-defined]
                created = True
        if size is not None:
            size, declared_type, _sha = validate_declared(size, declared_type, None)
            quota.check_room(item.quota_owner_id, size)
        store = get_blob_store()
        version = FileVersion.objects.create(
            item=item, number=1 if created else next_version_number(item), key=store.new_key("drive"),
            declared_size=size if size is not None else -1, declared_mimetype=declared_type,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if not created:
            Item.objects.filter(pk=item.pk).update(upload_state=UploadState.PENDING, updated_at=timezone.now())
    # A body of unknown length (chunked) is stopped as soon as it passes the size limit or
    # the room left in the quota: never more than that is stored, even for a moment.
    ceiling = None if size is not None else min(settings.DRIVE_MAX_FILE_BYTES, quota.room_left(item.quota_owner_id))
    tap = _Tap(body, keep=settings.DRIVE_INLINE_ANALYSIS_BYTES, limit=ceiling)
    try:
        info = store.put(version.key, tap, size=size, content_type=declared_type)  # type: ignore[arg-type]
    except BaseException as exc:
        with transaction.atomic():
            forget_pending(item, version)
        if isinstance(exc, BlobUploadInvalid):
            raise ValidationFailed(
                _("The body does not have the announced length."), code="size_mismatch",
                details={"declared_size": size},
            ) from None
        if isinstance(exc, _Overflow):
            if tap.size > settings.DRIVE_MAX_FILE_BYTES:
                raise _too_large() from None
            raise quota.exceeded(item.quota_owner_id, tap.size) from None  # at least that many bytes
        raise
    if info.size > settings.DRIVE_MAX_FILE_BYTES:
        with transaction.atomic():
            forget_pending(item, version)
        raise _too_large()
    if size is None:
        FileVersion.objects.filter(pk=version.pk).update(declared_size=info.size)
    version.declared_size = info.size
    received = Received(size=info.size, sha256=tap.digest.hexdigest(), head=bytes(tap.kept[: filetypes.SNIFF_BYTES]),
                        whole=bytes(tap.kept) if tap.size <= len(tap.kept) else None)
    return end_upload(item, version, received=received, read_back_up_to=settings.DRIVE_SINGLE_UPLOAD_MAX_BYTES)


def _writable_folder(parent: Item) -> Item:
    """``parent`` (fetched with the actor's role) if the actor may create in it."""
    if not role_allows(getattr(parent, ROLE_ANNOTATION, None), Perm.EDIT):
        raise PermissionDenied()
    if parent.type != ItemType.FOLDER:
        raise ValidationFailed(_("The parent must be a folder."), code="parent_not_folder",
                               details={"field": "parent"})
    return parent


def _too_large() -> SuiteError:
    return SuiteError(_("Files are limited to %(max)s bytes.") % {"max": settings.DRIVE_MAX_FILE_BYTES},
                      code="file_too_large", status=413)


class _Overflow(Exception):
    """A body went past the most bytes it may hold."""


class _Tap:
    """Reads a body through: hashes every byte, counts them, and keeps the first ``keep``
    (at least the type-sniffing head); past ``limit`` bytes, raises :class:`_Overflow`."""

    def __init__(self, source: Any, *, keep: int, limit: int | None = None):
        self.digest = hashlib.sha256()
        self.size = 0
        self.kept = bytearray()
        self._keep = max(keep, filetypes.SNIFF_BYTES)
        self._limit = limit
        if hasattr(source, "read"):
            self._read = source.read
        else:
            chunks = iter(source)
            self._read = lambda _amount: next((chunk for chunk in chunks if chunk), b"")

    def readable(self) -> bool:
        return True

    def read(self, amount: int | None = -1) -> bytes:
        chunk = bytes(self._read(amount if amount is not None else -1))
        if chunk:
            self.size += len(chunk)
            if self._limit is not None and self.size > self._limit:
                raise _Overflow
            self.digest.update(chunk)
            if len(self.kept) < self._keep:
                self.kept.extend(chunk[: self._keep - len(self.kept)])
        return chunk
