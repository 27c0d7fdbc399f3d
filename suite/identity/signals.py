"""Track sessions (for back-channel logout), audit logins and logouts, and announce credential
changes (logout, password change, deactivation) so open sockets end with them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.sessions.models import Session
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from suite.identity.audit import record_audit
from suite.identity.events import credentials_changed
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
        # Django flushes the session right after this signal; it is gone already when its
        # sockets are checked again.
        Session.objects.filter(session_key=session.session_key).delete()
    record_audit(AuditAction.LOGOUT, actor=user, target=user, request=request)
    credentials_changed([user.pk], "logout")


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if "nonce" in credentials:
        return  # a refused OIDC login: the OIDC backend already audited it with its reason
    record_audit(
        AuditAction.LOGIN_FAILED,
        request=request,
        username=str(credentials.get("username") or credentials.get("email") or "")[:254],
    )


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="identity.credentials_before_user_save")
def before_user_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Notes whether this save deactivates the user or changes their password: both end
    their credentials (a password change ends their other sessions, as Django's session
    hash check does on their next request). Announced once the row is saved."""
    instance._credential_change = None
    if instance._state.adding:
        return
    if update_fields is not None and not {"is_active", "password"} & set(update_fields):
        return
    before = type(instance).objects.filter(pk=instance.pk).values_list("is_active", "password").first()
    if before is None:
        return
    if before[0] and not instance.is_active:
        instance._credential_change = "deactivated"
    elif before[1] != instance.password:
        instance._credential_change = "password_changed"


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="identity.credentials_after_user_save")
def after_user_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    change = getattr(instance, "_credential_change", None)
    if change:
        instance._credential_change = None
        credentials_changed([instance.pk], change)
