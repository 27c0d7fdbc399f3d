"""Periodic cleanup of invitations nobody used before they expired."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="docs_app.purge_expired_invitations")
def purge_expired_invitations() -> int:
    """Delete expired invitations; idempotent. Returns how many were deleted."""
    from docs_app.services.invitations import invitations_purge_expired

    return invitations_purge_expired()
