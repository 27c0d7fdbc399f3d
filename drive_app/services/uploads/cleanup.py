"""Uploads abandoned half-way: rows, parts and objects forgotten after a delay."""

from __future__ import annotations

import contextlib
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drive_app.models import FileVersion, UploadState
from drive_app.services.uploads.pending import forget_pending
from suite.storage import BlobNotFound, BlobUploadNotFound, get_blob_store


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
                forget_pending(version.item, version)
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
