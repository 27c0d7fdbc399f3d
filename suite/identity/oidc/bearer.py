"""OIDC access tokens presented to the API as ``Authorization: Bearer``: JWTs verified
against the provider's keys (RFC 9068), other tokens through introspection (RFC 7662)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache

from suite.identity.models import User
from suite.identity.oidc.claims import LoginRefused, user_for_claims
from suite.identity.oidc.discovery import provider_timeout
from suite.identity.oidc.signed import (
    InvalidToken,
    looks_like_jwt,
    token_header,
    verify_provider_jwt,
)

logger = logging.getLogger(__name__)

#: Positive introspection answers are reused this long (never beyond the token's ``exp``).
INTROSPECTION_CACHE_SECONDS = 60
#: A bearer token's claims already applied to its user are not re-applied for this long.
BEARER_USER_CACHE_SECONDS = 300
#: JWT ``typ`` headers an access token may carry (RFC 9068 §2.1, or the generic one).
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt", "jwt"}
#: Introspected ``token_type`` values that are access tokens we can honour.
TOKEN_TYPES = {"bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"}


def verify_access_token_jwt(token: str) -> dict[str, Any]:
    typ = str(token_header(token).get("typ", "")).lower()
    if typ and typ not in ACCESS_TOKEN_TYPES:
        raise InvalidToken(f"a {typ!r} token is not an access token")
    claims = verify_provider_jwt(
        token,
        audiences=settings.OIDC_API_AUDIENCES,
        algorithms=settings.OIDC_API_ALGORITHMS,
        required=("iss", "sub", "aud", "exp", "iat"),
    )
    # ID tokens share issuer, keys and (with the client id as audience) aud: refuse them.
    if "nonce" in claims or "events" in claims or claims.get("typ") == "ID":
        raise InvalidToken("an ID or logout token is not an access token")
    return claims


def _introspection_request(token: str) -> dict[str, Any]:
    data = {"token": token, "token_type_hint": "access_token"}
    client_id, secret = settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET
    auth = None
    if getattr(settings, "OIDC_TOKEN_USE_BASIC_AUTH", False):
        auth = (quote(client_id, safe=""), quote(secret, safe=""))  # RFC 6749 §2.3.1
    else:
        data.update(client_id=client_id, client_secret=secret)
    try:
        response = requests.post(
            settings.OIDC_OP_INTROSPECTION_ENDPOINT, data=data, auth=auth, timeout=provider_timeout(),
            headers={"Accept": "application/json"}, verify=getattr(settings, "OIDC_VERIFY_SSL", True),
        )
        response.raise_for_status()
        claims = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise InvalidToken(f"introspection failed ({exc})") from None
    if not isinstance(claims, dict):
        raise InvalidToken("introspection answered something else than an object")
    return claims


def _check_introspected(claims: dict[str, Any]) -> None:
    now, leeway = time.time(), settings.OIDC_API_LEEWAY
    if claims.get("active") is not True:
        raise InvalidToken("inactive token")
    if str(claims.get("token_type", "bearer")).lower() not in TOKEN_TYPES:
        raise InvalidToken(f"a {claims.get('token_type')!r} is not an access token")
    if "iss" in claims and claims["iss"] != settings.OIDC_OP_ISSUER:
        raise InvalidToken("issuer mismatch")
    if isinstance(claims.get("exp"), (int, float)) and claims["exp"] < now - leeway:
        raise InvalidToken("expired")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + leeway:
        raise InvalidToken("not yet valid")
    audiences = claims.get("aud")
    if audiences:
        audiences = [audiences] if isinstance(audiences, str) else audiences
        if not set(audiences) & set(settings.OIDC_API_AUDIENCES):
            raise InvalidToken("audience mismatch")
    elif claims.get("client_id") != settings.OIDC_RP_CLIENT_ID:
        # Without an audience, only tokens issued to our own client are for us.
        raise InvalidToken("token issued to another client, without audience")


def introspect_access_token(token: str) -> dict[str, Any]:
    """RFC 7662 introspection with our client credentials; positive answers are cached
    briefly, keyed by a hash of the token (never the token itself), never beyond ``exp``."""
    cache_key = "oidc:introspection:" + hashlib.sha256(token.encode()).hexdigest()
    claims = cache.get(cache_key)
    if claims is None:
        claims = _introspection_request(token)
        _check_introspected(claims)
        ttl = INTROSPECTION_CACHE_SECONDS
        if isinstance(claims.get("exp"), (int, float)):
            ttl = min(ttl, int(claims["exp"] - time.time()))
        if ttl > 0:
            cache.set(cache_key, claims, ttl)
    return claims


def _bearer_user(claims: dict[str, Any]) -> User:
    relevant = [settings.OIDC_CLAIM_EMAIL, "name", *settings.OIDC_CLAIM_FULL_NAME,
                settings.OIDC_CLAIM_ORGANIZATION, settings.OIDC_CLAIM_ORGANIZATION_NAME,
                settings.OIDC_CLAIM_LANGUAGE, "email_verified"]
    profile = {name: claims.get(name) for name in relevant}
    digest = hashlib.sha256(json.dumps([claims.get("sub"), profile], sort_keys=True, default=str).encode())
    cache_key = "oidc:bearer-user:" + digest.hexdigest()
    user_id = cache.get(cache_key)
    user = User.objects.filter(pk=user_id, sub=claims.get("sub")).first() if user_id else None
    if user is None:
        user = user_for_claims(claims, require_email=False)
        cache.set(cache_key, str(user.pk), BEARER_USER_CACHE_SECONDS)
    if not user.is_active or user.is_bot:
        raise LoginRefused("inactive_user", sub=user.sub)
    return user


def authenticate_access_token(token: str) -> User | None:
    """The user of an OIDC access token presented as ``Authorization: Bearer``: a JWT checked
    against the provider's keys, or any token through introspection when configured. None
    (and an info log saying why) for anything else."""
    found = authenticate_access_token_claims(token)
    return None if found is None else found[0]


def authenticate_access_token_claims(token: str) -> tuple[User, dict[str, Any]] | None:
    """:func:`authenticate_access_token`, with the token's verified claims."""
    if not settings.OIDC_ENABLED:
        return None
    try:
        if looks_like_jwt(token) and settings.OIDC_OP_JWKS_ENDPOINT:
            claims = verify_access_token_jwt(token)
        elif settings.OIDC_OP_INTROSPECTION_ENDPOINT:
            claims = introspect_access_token(token)
        else:
            raise InvalidToken("not a JWT, and no OIDC_OP_INTROSPECTION_ENDPOINT")
        return _bearer_user(claims), claims
    except (InvalidToken, LoginRefused) as exc:
        logger.info("OIDC access token refused: %s", exc)
        return None
