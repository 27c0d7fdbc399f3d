"""Tasks of the drive product: analysis of uploads (checksum, type, scan), previews, and the
periodic purges. Ids in, idempotent (a retry or an overlapping run does no harm)."""

from __future__ import annotations

from celery import shared_task

from drive_app.scanning import ScannerError


@shared_task(name="drive_app.analyze_version", autoretry_for=(ScannerError,), retry_backoff=30,
             retry_backoff_max=600, max_retries=20)
def analyze_version(version_id: str) -> str:
    """Checksum, real type and malware scan of an uploaded version (large files; small ones
    are analyzed in the upload-ended request). Retried while the scanner is unreachable."""
    from drive_app.services.uploads import analyze

    return str(analyze(version_id))


@shared_task(name="drive_app.make_preview", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def make_preview(version_id: str) -> bool:
    """A thumbnail of a ready image or PDF version, cached in S3 (``preview_key``)."""
    from drive_app.services.previews import preview_store

    return preview_store(version_id)


@shared_task(name="drive_app.purge_trash", autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_trash() -> int:
    """Destroy items trashed more than ``DRIVE_TRASH_DAYS`` ago, S3 objects included."""
    from drive_app.services.items import trash_purge

    return trash_purge()


@shared_task(name="drive_app.clean_incomplete_uploads", autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def clean_incomplete_uploads() -> int:
    """Forget uploads left pending for ``DRIVE_INCOMPLETE_UPLOAD_HOURS`` (rows, parts, objects)."""
    from drive_app.services.uploads import clean_incomplete_uploads as clean

    return clean()


@shared_task(name="drive_app.resume_analysis")
def resume_analysis() -> int:
    """Scan again what stayed ``analyzing`` while the scanner was down."""
    from drive_app.services.uploads import resume_analysis as resume

    return resume()


@shared_task(name="drive_app.delete_objects")
def delete_objects() -> int:
    """Delete the S3 objects whose rows are gone and that S3 refused to delete at the time."""
    from drive_app.services.deletions import delete_recorded

    return delete_recorded()
