"""Durable document content: an append-only update log and a snapshot per document, in
PostgreSQL (decision 0010).

- :func:`append` writes accepted updates, many in one transaction (the rooms' group
  commit), before any peer sees them;
- :func:`load_doc` builds a document from its snapshot and every log row still present;
- :func:`compact` folds the log into the snapshot under a per-document advisory lock, in a
  ``REPEATABLE READ`` transaction that deletes exactly the rows it has read: a row appended
  by another process meanwhile stays in the log, so nothing is lost between compactions and
  two compactions of one document never run at once.

Synchronous (Django ORM); async callers go through ``database_sync_to_async``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
import pycrdt
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from psycopg.errors import SerializationFailure

from docs_app.collab.protocol import EMPTY_UPDATE
from docs_app.models import DocumentSnapshot, DocumentUpdate, DocumentVersion, VersionKind

logger = logging.getLogger(__name__)

#: Namespace of the advisory locks taken on documents (first key of the two-key form).
LOCK_NAMESPACE = 0x646F63  # "doc"
_CHUNK = 2000


def new_doc() -> pycrdt.Doc:
    return pycrdt.Doc()


def append(document_id: Any, updates: Iterable[bytes]) -> int:
    """Append ``updates`` to the log of ``document_id`` in one transaction; returns how many.
    Also stamps the document's ``content_updated_at``."""
    rows = [bytes(update) for update in updates]
    if not rows:
        return 0
    now = timezone.now()
    # Within the caller's transaction when there is one (the room's, holding the epoch).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # psycopg sends the rows in one pipelined round trip.
        cursor.executemany(
            "INSERT INTO docs_app_documentupdate (document_id, data, created_at) VALUES (%s, %s, %s)",
            [(document_id, data, now) for data in rows],
        )
        cursor.execute(
            "UPDATE docs_app_document SET content_updated_at = %s WHERE id = %s", [now, document_id]
        )
    return len(rows)


def load_state(document_id: Any) -> tuple[bytes | None, list[bytes]]:
    """The snapshot (or ``None``) and the log rows of a document, read in one transaction
    (so a concurrent compaction is seen either wholly or not at all).

    Read with psycopg's binary result format: Django's cursors ask for text, in which
    PostgreSQL sends ``bytea`` as hex, twice the bytes to send and decode (a 350 kB snapshot
    reads in about half the time; bench/RESULTS.md)."""
    top_level = not connection.in_atomic_block
    with transaction.atomic():
        if top_level:  # else the caller's transaction decides what is seen
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                "SELECT state FROM docs_app_documentsnapshot WHERE document_id = %s",
                [document_id],
                binary=True,
            )
            found = cursor.fetchone()
            cursor.execute(
                "SELECT data FROM docs_app_documentupdate WHERE document_id = %s ORDER BY id",
                [document_id],
                binary=True,
            )
            rows = [row[0] for row in cursor.fetchall()]
    return (found[0] if found else None), rows


def load_doc(document_id: Any) -> tuple[pycrdt.Doc, int]:
    """A document built from storage, and the number of log rows it was built with."""
    snapshot, rows = load_state(document_id)
    doc = new_doc()
    if snapshot is not None:
        doc.apply_update(snapshot)
    for row in rows:
        doc.apply_update(row)
    return doc, len(rows)


@dataclass(frozen=True)
class Compaction:
    merged: int  # log rows folded into the snapshot
    snapshot_bytes: int
    seconds: float
    version_created: bool


def compact(document_id: Any, *, min_rows: int = 1) -> Compaction | None:
    """Fold the log of ``document_id`` into its snapshot. ``None`` when another process is
    compacting it, when fewer than ``min_rows`` rows wait, or on a serialization conflict
    (a compaction that committed in between: nothing to do then)."""
    started = time.perf_counter()
    # At top level, one REPEATABLE READ transaction: the DELETE sees exactly the rows read.
    # Inside a caller's transaction (tests, maintenance scripts), rows are deleted by id.
    top_level = not connection.in_atomic_block
    read_ids: list[int] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if top_level:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                [LOCK_NAMESPACE, str(document_id)],
            )
            if not cursor.fetchone()[0]:
                return None
            cursor.execute(
                "SELECT count(*) FROM docs_app_documentupdate WHERE document_id = %s",
                [document_id],
            )
            waiting = cursor.fetchone()[0]
            if waiting < min_rows or waiting == 0:
                return None
            snapshot = DocumentSnapshot.objects.filter(document_id=document_id).first()
            doc = new_doc()
            if snapshot is not None:
                doc.apply_update(bytes(snapshot.state))
            merged = 0
            # A server-side cursor: the log is streamed, never held whole in memory.
            rows = (
                DocumentUpdate.objects.filter(document_id=document_id)
                .order_by("id")
                .values_list("id", "data")
                .iterator(chunk_size=_CHUNK)
            )
            for row_id, data in rows:
                doc.apply_update(bytes(data))
                merged += 1
                if not top_level:
                    read_ids.append(row_id)
            state = doc.get_update()
            del doc
            now = timezone.now()
            DocumentSnapshot.objects.update_or_create(
                document_id=document_id,
                defaults={
                    "state": state,
                    "updates_merged": (snapshot.updates_merged if snapshot else 0) + merged,
                    "compacted_at": now,
                },
            )
            if top_level:  # same MVCC snapshot as the reads above: exactly the rows folded in
                cursor.execute(
                    "DELETE FROM docs_app_documentupdate WHERE document_id = %s", [document_id]
                )
            else:
                DocumentUpdate.objects.filter(pk__in=read_ids).delete()
            version_created = _auto_version(document_id, state, now)
    except DatabaseError as exc:
        if isinstance(exc.__cause__, SerializationFailure):
            logger.info("compaction conflict", extra={"document_id": str(document_id)})
            return None
        raise
    return Compaction(merged, len(state), time.perf_counter() - started, version_created)


def _auto_version(document_id: Any, state: bytes, now: Any) -> bool:
    """After a period of activity (``DOCS_AUTO_VERSION_SECONDS`` since the last version, with
    edits since), keep the compacted state as an automatic version; prune the oldest
    automatic versions beyond ``DOCS_AUTO_VERSIONS_KEEP``."""
    last = (
        DocumentVersion.objects.filter(document_id=document_id)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None and (now - last).total_seconds() < settings.DOCS_AUTO_VERSION_SECONDS:
        return False
    if last is None and state == EMPTY_UPDATE:
        return False
    DocumentVersion.objects.create(
        document_id=document_id, kind=VersionKind.AUTO, state=state, size=len(state)
    )
    stale = list(
        DocumentVersion.objects.filter(document_id=document_id, kind=VersionKind.AUTO)
        .order_by("-created_at")
        .values_list("pk", flat=True)[settings.DOCS_AUTO_VERSIONS_KEEP :]
    )
    if stale:
        DocumentVersion.objects.filter(pk__in=stale).delete()
    return True
