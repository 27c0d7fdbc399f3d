"""Platform tasks."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(
    name="suite.deliver_event",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def deliver_event(name: str, payload: dict[str, Any], handler_path: str) -> None:
    """Run one ``in_task`` event subscriber. Subscribers must be idempotent (retries)."""
    from suite.events import deliver

    deliver(name, payload, handler_path)
