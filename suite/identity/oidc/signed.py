"""Verifying JWTs signed by the provider with the keys of its JWKS."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings

from suite.identity.oidc.discovery import provider_timeout


class InvalidToken(Exception):
    """A token (access or logout) that must not be honoured; the message says why."""


@lru_cache(maxsize=8)
def jwks_client(url: str, timeout: float) -> jwt.PyJWKClient:
    """One client per JWKS URL: it caches the key set for 5 minutes and refetches it once
    (at most every 30 s) when a token names a ``kid`` it does not know, i.e. after the
    provider rotated its keys."""
    return jwt.PyJWKClient(url, timeout=timeout)


def token_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed JWT ({exc})") from None


def verify_provider_jwt(
    token: str, *, audiences: list[str], algorithms: list[str], required: tuple[str, ...]
) -> dict[str, Any]:
    """The claims of a JWT signed by the provider (key from its JWKS), issued by
    ``OIDC_OP_ISSUER`` for one of ``audiences``, currently valid (exp/nbf/iat, with
    ``OIDC_API_LEEWAY``). Raises :class:`InvalidToken`."""
    header = token_header(token)
    # Asymmetric algorithms only: "none" has no signature, and an HS* token would be checked
    # with a public key as the HMAC secret (the classic algorithm-confusion attack).
    allowed = [a for a in algorithms if a and a.lower() != "none" and not a.upper().startswith("HS")]
    algorithm = header.get("alg")
    if algorithm not in allowed:
        raise InvalidToken(f"algorithm {algorithm!r} is not allowed")
    if not settings.OIDC_OP_JWKS_ENDPOINT or not settings.OIDC_OP_ISSUER:
        raise InvalidToken("OIDC_OP_JWKS_ENDPOINT and OIDC_OP_ISSUER are needed to verify tokens")
    if not audiences:
        raise InvalidToken("no accepted audience is configured")
    try:
        key = jwks_client(settings.OIDC_OP_JWKS_ENDPOINT, provider_timeout()).get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=list(audiences),
            issuer=settings.OIDC_OP_ISSUER,
            leeway=settings.OIDC_API_LEEWAY,
            options={"require": list(required)},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"{type(exc).__name__}: {exc}") from None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
