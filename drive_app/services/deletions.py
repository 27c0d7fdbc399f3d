"""S3 objects deleted after the rows that knew them, without ever losing track of them.

An object is deleted once the transaction that dropped its rows commits (never before: a
rolled-back delete must find its bytes). If S3 fails then, the rows are gone and nothing
would know the object any more: so the keys are first recorded (``ObjectDeletion``) in that
same transaction, deleted after commit, and whatever S3 refused is retried by the periodic
``drive_app.delete_objects`` task until it goes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from drive_app.models import ObjectDeletion
from suite.storage import BlobNotFound, BlobUploadNotFound, get_blob_store

logger = logging.getLogger(__name__)

#: Objects handled per run of the periodic task.
BATCH = 500


def forget_objects(keys: Iterable[str], uploads: Iterable[tuple[str, str]] = ()) -> None:
    """Delete the objects ``keys`` and abort the multipart ``uploads`` ((key, upload id))
    once the current transaction commits (at once outside a transaction); recorded first, so
    that a failure of S3 is retried, not forgotten."""
    rows = [ObjectDeletion(key=key, upload_id=upload_id) for key, upload_id in uploads]
    rows += [ObjectDeletion(key=key) for key in keys if key]
    if not rows:
        return
    created = ObjectDeletion.objects.bulk_create(rows)
    ids = [row.pk for row in created]
    transaction.on_commit(lambda: delete_recorded(ids))


def delete_recorded(ids: list[int] | None = None) -> int:
    """Delete the recorded objects (``ids``, or the oldest :data:`BATCH`); what S3 refuses
    stays recorded for the next run. Returns how many went."""
    rows = ObjectDeletion.objects.order_by("created_at")
    rows = rows.filter(pk__in=ids) if ids is not None else rows[:BATCH]
    store = get_blob_store()
    done: list[int] = []
    for row in rows:
        try:
            if row.upload_id:
                with contextlib.suppress(BlobUploadNotFound, BlobNotFound):  # completed or aborted already
                    store.multipart_abort(row.key, row.upload_id)
            with contextlib.suppress(BlobNotFound):
                store.delete(row.key)
        except Exception as exc:  # S3 down or refusing: kept for the next run
            logger.warning("object not deleted yet", extra={"key": row.key, "error": str(exc)[:200]})
            ObjectDeletion.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:255])
            continue
        done.append(row.pk)
    ObjectDeletion.objects.filter(pk__in=done).delete()
    return len(done)
