"""Recording security-relevant actions in the audit log."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from suite.identity.models import AuditAction, AuditEvent
from suite.observability import request_id_var


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_audit(
    action: AuditAction,
    *,
    actor: Any = None,
    target: Any = None,
    request: HttpRequest | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one audit event. ``target`` is any model instance (type and id are stored)."""
    target_type = target_id = ""
    if target is not None:
        target_type = f"{target._meta.app_label}.{target._meta.model_name}"
        target_id = str(target.pk)
    request_id = request_id_var.get()
    return AuditEvent.objects.create(
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=client_ip(request),
        request_id="" if request_id == "-" else request_id,
        data=data,
    )
