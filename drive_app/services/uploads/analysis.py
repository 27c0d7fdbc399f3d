"""Analysis of uploaded bytes: SHA-256, real type (``drive_app.filetypes``) and malware scan,
and the version's final state (ready, rejected, infected).

:func:`verdict` judges bytes already in hand (a small upload read whole in the request, or
what the server hashed while writing it); :func:`analyze` reads a version back from S3 once,
feeding the hash, the type detection and the scanner together (the task for large uploads,
and the retry of anything the scanner could not judge)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from drive_app import filetypes, quota
from drive_app.models import FileVersion, Item, UploadState
from drive_app.services.deletions import forget_objects
from suite.storage import get_blob_store

logger = logging.getLogger(__name__)
#: Bytes read from S3 at a time when analyzing an upload (hash, type, scan in one pass).
READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Refusal:
    """Why bytes are refused: an error ``code`` (``checksum_mismatch``, ``type_denied``...)
    and a sentence."""

    code: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """What the bytes are: their ``sha256`` and served ``mimetype``, or a ``refusal``, or
    ``infected`` with the scanner's signature."""

    sha256: str = ""
    mimetype: str = ""
    refusal: Refusal | None = None
    infected: str = ""


def verdict(version: FileVersion, title: str, *, sha256: str, head: bytes, scan: Any = None) -> Verdict:
    """Judge bytes whose SHA-256 and first bytes are known. ``scan`` is the scanner's result
    (``None``: not scanned, which only the no-op scanner allows). Most serious first: infected,
    a checksum mismatch, a refused type."""
    if scan is not None and not scan.clean:
        return Verdict(infected=scan.signature or "unknown")
    if version.declared_sha256 and sha256 != version.declared_sha256:
        return Verdict(refusal=Refusal("checksum_mismatch",
                                       f"the SHA-256 of the uploaded bytes is {sha256}, not the declared one"))
    typed = filetypes.check(title, head, version.declared_mimetype)
    if not typed.allowed:
        return Verdict(refusal=Refusal(typed.code, typed.reason))
    return Verdict(sha256=sha256, mimetype=typed.mimetype)


def analyze(version_id: Any) -> str:
    """Read the bytes once from S3, feeding at the same time the SHA-256, the type detection
    (first bytes) and the scanner. Idempotent (a version that is no longer ``analyzing`` is
    left alone). Returns the version's final state. Raises ScannerError when the scanner
    cannot judge (the version stays ``analyzing``: retried later, fail closed)."""
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
            result = scanner.scan(stream)
        except scanning.ScanLimitExceeded:
            # Fail closed for good: a file the scanner refuses to read is never served.
            return _settle_once(version, Verdict(refusal=Refusal(
                "scan_limit_exceeded", "the file is larger than the scanner accepts")))
        for _rest in stream:  # what the scanner did not read (the no-op one reads nothing)
            pass
    return _settle_once(version, verdict(version, version.item.title, sha256=digest.hexdigest(), head=bytes(head),
                                         scan=result))


def _settle_once(version: FileVersion, judged: Verdict) -> str:
    """Settle ``version`` unless an overlapping run (the task and the periodic resume) or a
    delete got there first while the bytes were read."""
    with transaction.atomic():
        state = FileVersion.objects.select_for_update().filter(pk=version.pk).values_list("state", flat=True).first()
        if state != UploadState.ANALYZING:
            return state or "gone"
        return settle(version, judged)


def settle(version: FileVersion, judged: Verdict) -> str:
    """Record a verdict on an ``analyzing`` version (inside a transaction). Returns the new state."""
    if judged.infected:
        _mark_infected(version, judged.infected)
        return UploadState.INFECTED
    if judged.refusal is not None:
        reject(version, judged.refusal)
        return UploadState.REJECTED
    mark_ready(version, judged.sha256, judged.mimetype)
    return UploadState.READY


def reject(version: FileVersion, refusal: Refusal) -> None:
    """A refused version: kept as ``rejected`` with its reason, its charge released, its
    object deleted after commit (call inside a transaction). The charge and its owner are
    read again under the row lock: the item may have moved to another drive meanwhile."""
    charged, owner_id = (
        FileVersion.objects.select_for_update(of=("self",)).filter(pk=version.pk)
        .values_list("charged_bytes", "item__quota_owner_id").first() or (0, None)
    )
    FileVersion.objects.filter(pk=version.pk).update(
        state=UploadState.REJECTED, state_reason=f"{refusal.code}: {refusal.reason}"[:255], multipart_upload_id="",
        charged_bytes=0,
    )
    Item.objects.filter(pk=version.item_id).update(upload_state=UploadState.REJECTED)
    if charged and owner_id is not None:
        quota.release(owner_id, charged)
    version.charged_bytes = 0
    version.state = UploadState.REJECTED
    forget_objects([version.key])


def _mark_infected(version: FileVersion, signature: str) -> None:
    """Kept aside (the object stays, for the administrators; it is never served) and the
    uploader is told."""
    from drive_app import notifications

    FileVersion.objects.filter(pk=version.pk).update(
        state=UploadState.INFECTED, state_reason=f"infected: {signature}"[:255]
    )
    Item.objects.filter(pk=version.item_id).update(upload_state=UploadState.INFECTED)
    version.state = UploadState.INFECTED
    version_pk = version.pk
    transaction.on_commit(lambda: notifications.infected_file(version_pk))
    logger.warning("infected upload kept aside", extra={"version": str(version.pk), "signature": signature})


def mark_ready(version: FileVersion, sha256: str, mimetype: str, **version_fields: Any) -> dict[str, Any]:
    """A version that passed every check becomes ``ready`` (with ``version_fields`` written in
    the same UPDATE), and the item's current one unless a newer version is already ready
    (call inside a transaction, ``version.size`` known). Returns the item fields it set."""
    from drive_app import tasks
    from drive_app.previews import supports

    FileVersion.objects.filter(pk=version.pk).update(
        state=UploadState.READY, state_reason="", sha256=sha256, mimetype=mimetype, **version_fields
    )
    version.state, version.sha256, version.mimetype = UploadState.READY, sha256, mimetype
    fields = make_current(version)
    apply_retention(version.item_id, newest_number=version.number)
    if supports(mimetype):  # no task for types that never get a preview
        version_pk = version.pk
        transaction.on_commit(lambda: tasks.make_preview.delay(str(version_pk)))
    return fields


#: The item follows its versions in one statement (no window between reading the newer
#: versions and writing the item): its state is its newest version's, and this version
#: becomes current unless a newer one is ready already.
MAKE_CURRENT = """
UPDATE {item} AS i SET
    updated_at = %(now)s,
    upload_state = COALESCE(newer.newest_state, %(ready)s),
    current_version_id = CASE WHEN newer.ready THEN i.current_version_id ELSE %(version)s END,
    size = CASE WHEN newer.ready THEN i.size ELSE %(size)s END,
    mimetype = CASE WHEN newer.ready THEN i.mimetype ELSE %(mimetype)s END,
    sha256 = CASE WHEN newer.ready THEN i.sha256 ELSE %(sha256)s END
FROM (SELECT
        (SELECT v.state FROM {version} v WHERE v.item_id = %(item_id)s AND v.number > %(number)s
         ORDER BY v.number DESC LIMIT 1) AS newest_state,
        EXISTS (SELECT 1 FROM {version} v WHERE v.item_id = %(item_id)s AND v.number > %(number)s
                AND v.state = %(ready)s) AS ready
     ) AS newer
WHERE i.id = %(item_id)s
RETURNING i.updated_at, i.upload_state, i.current_version_id, i.size, i.mimetype, i.sha256
"""
_CURRENT_FIELDS = ("updated_at", "upload_state", "current_version_id", "size", "mimetype", "sha256")


def make_current(version: FileVersion) -> dict[str, Any]:
    """Point the item at ``version`` (just made ready) as :data:`MAKE_CURRENT` says; returns
    the item fields as they now are."""
    quote = connection.ops.quote_name
    sql = MAKE_CURRENT.format(item=quote(Item._meta.db_table), version=quote(FileVersion._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, {
            "now": timezone.now(), "ready": UploadState.READY, "version": version.pk, "size": version.size,
            "mimetype": version.mimetype, "sha256": version.sha256, "item_id": version.item_id,
            "number": version.number,
        })
        row = cursor.fetchone()
    return dict(zip(_CURRENT_FIELDS, row, strict=True)) if row is not None else {}


def apply_retention(item_id: Any, *, newest_number: int | None = None) -> int:
    """Delete ready versions beyond ``DRIVE_VERSIONS_KEEP`` (and older than
    ``DRIVE_VERSIONS_MAX_DAYS`` when set), never the current one. Returns how many.
    ``newest_number``: version numbers only grow, so a file whose newest version number is
    within the limit cannot hold too many (no query)."""
    from drive_app.services.uploads.versions import delete_version_row

    if newest_number is not None and newest_number <= settings.DRIVE_VERSIONS_KEEP and not settings.DRIVE_VERSIONS_MAX_DAYS:
        return 0
    item = Item.objects.only("pk", "quota_owner_id", "current_version_id").get(pk=item_id)
    ready = FileVersion.objects.filter(item_id=item_id, state=UploadState.READY).order_by("-number")
    if item.current_version_id is not None:  # never the current one
        ready = ready.exclude(pk=item.current_version_id)
    doomed = list(ready[max(0, settings.DRIVE_VERSIONS_KEEP - 1):])
    if settings.DRIVE_VERSIONS_MAX_DAYS:
        cutoff = timezone.now() - dt.timedelta(days=settings.DRIVE_VERSIONS_MAX_DAYS)
        doomed += [v for v in ready.filter(created_at__lt=cutoff) if v not in doomed]
    for version in doomed:
        delete_version_row(item, version)
    return len(doomed)


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
        except Exception:  # one version's trouble (its object lost...) must not stall the others
            logger.exception("analysis failed", extra={"version": str(version_id)})
    return done
