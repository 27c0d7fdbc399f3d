"""Cached previews: rendered once per ready version by a task, stored in S3 beside it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from drive_app.models import FileVersion, UploadState
from drive_app.services.deletions import forget_objects
from suite.storage import get_blob_store


def preview_store(version_id: Any) -> bool:
    """Render and store the preview of a ready version (idempotent). ``False`` when the
    type has no preview or the file cannot be rendered."""
    from drive_app import previews

    version = FileVersion.objects.filter(pk=version_id, state=UploadState.READY).first()
    if version is None or version.preview_key:
        return bool(version and version.preview_key)
    data = previews.make_preview(version.key, version.mimetype, version.size or 0)
    if data is None:
        return False
    store = get_blob_store()
    key = store.new_key("drive-previews")
    store.put(key, data, content_type=previews.PREVIEW_CONTENT_TYPE)
    with transaction.atomic():
        updated = FileVersion.objects.filter(pk=version.pk, preview_key="").update(preview_key=key)
    if not updated:  # the version went away (or another run won): do not leak the object
        forget_objects([key])
    return bool(updated)
