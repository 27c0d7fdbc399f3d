"""OpenID Connect Back-Channel Logout 1.0: the provider tells us which sessions to end."""

from __future__ import annotations

import hashlib
import logging
import time
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from suite.errors import error_response
from suite.identity.audit import record_audit
from suite.identity.credentials import remember_oidc_logout
from suite.identity.events import credentials_changed
from suite.identity.models import AuditAction, User, UserSession
from suite.identity.oidc.signed import InvalidToken, token_header, verify_provider_jwt

logger = logging.getLogger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Logout tokens without ``exp`` are refused once older than this.
LOGOUT_TOKEN_MAX_AGE = 300
LOGOUT_TOKEN_TYPES = {"logout+jwt", "application/logout+jwt", "jwt"}


def validate_logout_token(token: str) -> dict[str, Any]:
    """The claims of a Logout Token, validated as OpenID Connect Back-Channel Logout 1.0 §2.6
    requires, including replay (a ``jti`` is honoured once). Raises :class:`InvalidToken`."""
    typ = str(token_header(token).get("typ", "")).lower()
    if typ and typ not in LOGOUT_TOKEN_TYPES:
        raise InvalidToken(f"a {typ!r} token is not a logout token")
    claims = verify_provider_jwt(
        token,
        audiences=[settings.OIDC_RP_CLIENT_ID],
        algorithms=[settings.OIDC_RP_SIGN_ALGO, *settings.OIDC_API_ALGORITHMS],
        required=("iss", "aud", "iat", "jti", "events"),
    )
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise InvalidToken("no back-channel logout event")
    if "nonce" in claims:
        raise InvalidToken("a logout token must not contain a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise InvalidToken("neither sid nor sub")
    now = time.time()
    expires = claims.get("exp") or claims["iat"] + LOGOUT_TOKEN_MAX_AGE
    if expires < now - settings.OIDC_API_LEEWAY:
        raise InvalidToken("too old")
    replay_key = "oidc:logout-jti:" + hashlib.sha256(f"{claims['iss']} {claims['jti']}".encode()).hexdigest()
    if not cache.add(replay_key, 1, timeout=max(60, int(expires - now) + settings.OIDC_API_LEEWAY)):
        raise InvalidToken("replayed")
    return claims


def end_provider_sessions(*, sid: str | None, sub: str | None, request: HttpRequest | None = None) -> int:
    """End the sessions the provider names: those of its session ``sid`` (of user ``sub`` when
    given too), or all of user ``sub``'s. Returns how many ended."""
    rows = UserSession.objects.select_related("user")
    if sid:
        rows = rows.filter(oidc_sid=sid)
    if sub:
        rows = rows.filter(user__sub=sub)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    with transaction.atomic():
        sessions = list(rows.select_for_update(of=("self",)))
        for session in sessions:
            store(session_key=session.session_key).delete()
        UserSession.objects.filter(session_key__in=[s.session_key for s in sessions]).delete()
        users = {session.user for session in sessions}
        target = next(iter(users)) if len(users) == 1 else None
        if target is None and sub:
            target = User.objects.filter(sub=sub).first()
        # Sockets opened with the provider's access tokens of these sessions end too.
        ended_user_ids = [u.pk for u in users] or ([target.pk] if target is not None else [])
        remember_oidc_logout(sid=sid, user_ids=ended_user_ids)
        credentials_changed(ended_user_ids, "backchannel_logout")
        record_audit(
            AuditAction.BACKCHANNEL_LOGOUT, target=target, request=request,
            sid=sid or "", sub=sub or "", sessions=len(sessions),
        )
    return len(sessions)


def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """The provider POSTs ``logout_token``; 200 once its sessions are ended, 400 for a token
    we must not honour (§2.8). Never cached."""
    no_store = {"Cache-Control": "no-store"}
    token = request.POST.get("logout_token", "")
    if not token or not settings.OIDC_ENABLED:
        return error_response(
            400, "invalid_logout_token", _("Send a logout_token form field."), headers=no_store
        )
    try:
        claims = validate_logout_token(token)
    except InvalidToken as exc:
        logger.info("Back-channel logout token refused: %s", exc)
        return error_response(
            400, "invalid_logout_token", _("The logout token is invalid."),
            details={"reason": str(exc)}, headers=no_store,
        )
    ended = end_provider_sessions(sid=claims.get("sid"), sub=claims.get("sub"), request=request)
    logger.info("Back-channel logout ended %d session(s)", ended)
    response = HttpResponse(status=200)
    response["Cache-Control"] = "no-store"
    return response
