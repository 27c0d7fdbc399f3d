"""Personal and bot API tokens: creation, verification, revocation.

Format: ``cmn_<prefix>_<secret>``. The 8-character prefix is stored in clear and indexed,
so verification is one index lookup; only the SHA-256 digest of the whole token is stored.
A token carries 256 bits of randomness, so a fast digest is enough (a slow password hash
would only slow every API call down without adding security); comparison is constant-time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from suite.errors import NotFound, PermissionDenied, ValidationFailed
from suite.identity import scopes as token_scopes
from suite.identity.audit import client_ip, record_audit
from suite.identity.events import credentials_changed
from suite.identity.models import ApiToken, AuditAction, User

TOKEN_PREFIX = "cmn_"  # noqa: S105 -- a public marker, not a secret
PREFIX_LENGTH = 8
# Do not write last_used_at more often than this, so reads stay reads.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, raw


def looks_like_api_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def token_create(
    *,
    actor: Any,
    user: User,
    name: str,
    scopes: list[str] | None = None,
    expires_in_days: int | None = None,
    actor_scopes: list[str] | None = None,
    request: Any = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its only clear-text copy.

    ``actor`` is the user acting (``None`` for the command line, which is trusted);
    ``actor_scopes`` the scopes of the token the actor authenticated with, if any: a token can
    only mint tokens with a subset of its own scopes.
    """
    scopes = sorted(set(scopes or []))
    unknown = token_scopes.invalid_scopes(scopes)
    if unknown:
        raise ValidationFailed(
            _("Unknown scope."),
            details={"scopes": unknown, "allowed": sorted(token_scopes.KNOWN_SCOPES)},
        )
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("A token needs a name of 1 to 100 characters."), details={"name": name})
    days = settings.API_TOKEN_DEFAULT_EXPIRY_DAYS if expires_in_days is None else expires_in_days
    if days < 1 or days > settings.API_TOKEN_MAX_EXPIRY_DAYS:
        raise ValidationFailed(
            _("The expiry must be between 1 and %(max)s days.") % {"max": settings.API_TOKEN_MAX_EXPIRY_DAYS},
            details={"expires_in_days": days},
        )
    if actor is not None:
        if actor.pk != user.pk:
            raise PermissionDenied(_("You can only create tokens for yourself."))
        if actor_scopes and not token_scopes.is_subset(scopes, actor_scopes):
            raise PermissionDenied(_("A token cannot create a token with wider scopes than its own."))
    prefix, raw = _new_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=digest(raw),
            scopes=scopes,
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        record_audit(
            AuditAction.TOKEN_CREATED,
            actor=actor or user,
            target=token,
            request=request,
            scopes=scopes,
            via="api" if actor is not None else "cli",
        )
    return token, raw


def token_revoke(*, actor: Any, token_id: Any, request: Any = None) -> ApiToken:
    """Revoke one of ``actor``'s tokens (``actor=None``: the command line, any token)."""
    queryset = ApiToken.objects.all() if actor is None else ApiToken.objects.filter(user=actor)
    with transaction.atomic():
        token = queryset.select_for_update().filter(pk=token_id).first()
        if token is None:
            raise NotFound()
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_audit(AuditAction.TOKEN_REVOKED, actor=actor or token.user, target=token, request=request)
            credentials_changed([token.user_id], "token_revoked")
    return token


def authenticate_api_token(raw: str, request: Any = None) -> ApiToken | None:
    """The active token matching ``raw`` (with its user loaded), or ``None``."""
    if not looks_like_api_token(raw):
        return None
    try:
        prefix, _secret = raw[len(TOKEN_PREFIX) :].split("_", 1)
    except ValueError:
        return None
    if len(prefix) != PREFIX_LENGTH:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.digest, digest(raw)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=client_ip(request))
        token.last_used_at = now
    return token
