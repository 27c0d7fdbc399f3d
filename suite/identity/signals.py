"""Track sessions (for back-channel logout) and audit logins and logouts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from suite.identity.audit import record_audit
from suite.identity.models import AuditAction, UserSession


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        if session.session_key is None:
            session.save()
        UserSession.objects.update_or_create(
            session_key=session.session_key,
            defaults={"user": user, "oidc_sid": session.get("oidc_sid", "") or ""},
        )
    method = "oidc" if session is not None and session.get("oidc_id_token") else "password"
    record_audit(AuditAction.LOGIN, actor=user, target=user, request=request, method=method)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()
    record_audit(AuditAction.LOGOUT, actor=user, target=user, request=request)


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if "nonce" in credentials:
        return  # a refused OIDC login: the OIDC backend already audited it with its reason
    record_audit(
        AuditAction.LOGIN_FAILED,
        request=request,
        username=str(credentials.get("username") or credentials.get("email") or "")[:254],
    )
