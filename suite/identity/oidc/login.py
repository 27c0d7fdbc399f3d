"""Login through the provider (authorization code flow) and RP-initiated logout."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import SuspiciousOperation
from django.dispatch import receiver
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.crypto import get_random_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from suite.identity.audit import record_audit
from suite.identity.models import AuditAction, User, UserSession
from suite.identity.oidc.claims import LoginRefused, user_for_claims
from suite.identity.oidc.discovery import provider_timeout

logger = logging.getLogger(__name__)

#: Token bookkeeping claims, not profile claims (left out when ID token and userinfo merge).
JWT_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "jti", "nonce", "azp", "at_hash", "c_hash",
              "auth_time", "acr", "amr", "sid"}


class SuiteOIDCBackend(OIDCAuthenticationBackend):
    """Login through the provider (mozilla-django-oidc drives the code flow with state, nonce
    and PKCE); the verified claims are mapped to a :class:`User` by :func:`user_for_claims`.

    On top of mozilla-django-oidc it checks the ID token's ``iss``/``aud``/``azp``, accepts
    userinfo answered as a signed JWT (ProConnect) whose ``sub`` must match the ID token's,
    keeps the provider's session id (``sid``) for back-channel logout and audits refusals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # mozilla-django-oidc's constructor raises when no JWKS endpoint is configured, which
        # would break every authenticate() call (password logins too) while OIDC is off.
        self.OIDC_OP_TOKEN_ENDPOINT = settings.OIDC_OP_TOKEN_ENDPOINT
        self.OIDC_OP_USER_ENDPOINT = settings.OIDC_OP_USER_ENDPOINT
        self.OIDC_OP_JWKS_ENDPOINT = settings.OIDC_OP_JWKS_ENDPOINT or None
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = getattr(settings, "OIDC_RP_IDP_SIGN_KEY", None)
        self.UserModel = User

    def authenticate(self, request: Any, **kwargs: Any) -> User | None:
        # Only the callback view's call (nonce, code_verifier) is ours; password logins pass.
        if request is None or "nonce" not in kwargs or not settings.OIDC_ENABLED:
            return None
        self.request = request
        try:
            return super().authenticate(request, **kwargs)
        except LoginRefused as exc:
            refused = exc
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError, ValueError, KeyError) as exc:
            logger.warning("OIDC login failed: %s", exc)
            refused = LoginRefused("provider_exchange_failed")
        logger.info("OIDC login refused: %s (sub=%s)", refused.reason, refused.sub)
        record_audit(
            AuditAction.LOGIN_FAILED, request=request, method="oidc", reason=refused.reason,
            username=refused.email, sub=str(refused.sub or "")[:255],
        )
        return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims: signature, alg and nonce (mozilla-django-oidc), then the
        checks of OpenID Connect Core §3.1.3.7 it leaves out."""
        payload = super().verify_token(token, **kwargs)
        audiences = payload.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if settings.OIDC_OP_ISSUER and payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("ID token issuer mismatch")
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token audience mismatch")
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token authorized party mismatch")
        if "exp" not in payload or "iat" not in payload:
            raise SuspiciousOperation("ID token without exp or iat")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
            verify=getattr(settings, "OIDC_VERIFY_SSL", True),
            timeout=provider_timeout(),
        )
        response.raise_for_status()
        if response.headers.get("Content-Type", "").lower().startswith("application/jwt"):
            # Signed userinfo (Core §5.3.2): same keys and algorithm as the ID token.
            claims = OIDCAuthenticationBackend.verify_token(self, response.text)
            if claims.get("iss", settings.OIDC_OP_ISSUER) != settings.OIDC_OP_ISSUER:
                raise SuspiciousOperation("userinfo issuer mismatch")
            audiences = claims.get("aud", self.OIDC_RP_CLIENT_ID)
            if self.OIDC_RP_CLIENT_ID not in ([audiences] if isinstance(audiences, str) else audiences):
                raise SuspiciousOperation("userinfo audience mismatch")
        else:
            claims = response.json()
        if claims.get("sub") != payload.get("sub"):
            raise LoginRefused("userinfo_subject_mismatch", sub=payload.get("sub"))
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        claims = {k: v for k, v in payload.items() if k not in JWT_CLAIMS} | userinfo
        sid = payload.get("sid")
        kept = {"oidc_sid": sid if isinstance(sid, str) else ""}
        if settings.OIDC_STORE_ID_TOKEN:
            kept["oidc_id_token"] = id_token
        self.request.session.update(kept)
        self.request.suite_oidc_session = kept  # restored by keep_oidc_session after login
        user = user_for_claims(claims, require_email=True)
        current = getattr(self.request, "user", None)
        if current is not None and current.is_authenticated and current.pk == user.pk:
            # Signing in again as the same user: mozilla-django-oidc skips auth.login (so no
            # user_logged_in), yet the provider session, hence the sid, may be a new one.
            UserSession.objects.filter(session_key=self.request.session.session_key).update(
                oidc_sid=kept["oidc_sid"]
            )
        return user

    def get_user(self, user_id: Any) -> User | None:
        user = super().get_user(user_id)
        return user if user is not None and user.is_active and not user.is_bot else None


@receiver(user_logged_in, dispatch_uid="suite.identity.oidc.keep_oidc_session")
def keep_oidc_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``auth.login`` flushes the session when another user was signed in on this browser:
    put the ID token and ``sid`` back, and link the session to ``sid`` for back-channel
    logout (the identity signal receivers may run before or after this one)."""
    kept = getattr(request, "suite_oidc_session", None)
    if not kept:
        return
    request.session.update(kept)
    if request.session.session_key is None:
        request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key, defaults={"user": user, "oidc_sid": kept["oidc_sid"]}
    )


def provider_logout_url(request: HttpRequest) -> str:
    """Where to send the browser after a local logout: the provider's end-session endpoint
    (RP-Initiated Logout 1.0) for sessions opened through it, else ``LOGOUT_REDIRECT_URL``."""
    local = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token") if hasattr(request, "session") else None
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if not endpoint or not id_token:
        return local
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(local),
        "state": get_random_string(32),
    }
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
