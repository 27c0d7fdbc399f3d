"""Periodic tasks of the documents product."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="docs_app.purge_trash", autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_trash() -> int:
    """Destroy documents deleted more than ``DOCS_TRASH_DAYS`` days ago (scheduled hourly;
    idempotent, so a retry or an overlapping run does no harm)."""
    from docs_app.services.documents import trash_purge

    return trash_purge()


# Celery discovers ``docs_app.tasks`` only: make the invitation tasks part of it.
from docs_app.tasks_invitations import purge_expired_invitations  # noqa: E402,F401
