"""Provider discovery (OpenID Connect Discovery 1.0) and the configuration problems that
``suite check`` reports."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.core import checks

logger = logging.getLogger(__name__)

#: Setting filled from the discovery document → the document's member.
DISCOVERY_SETTINGS = {
    "OIDC_OP_ISSUER": "issuer",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
    "OIDC_OP_INTROSPECTION_ENDPOINT": "introspection_endpoint",
}
REQUIRED_ENDPOINTS = (
    "OIDC_OP_ISSUER", "OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_JWKS_ENDPOINT",
)

_discovery_problems: list[str] = []


class DiscoveryError(Exception):
    """The discovery document could not be used; the message names the variable."""


def provider_timeout() -> float:
    return getattr(settings, "OIDC_TIMEOUT", None) or 10


def fetch_discovery(url: str) -> dict[str, Any]:
    """The provider's configuration document (OpenID Connect Discovery 1.0 §4)."""
    try:
        response = requests.get(url, timeout=provider_timeout(), headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except requests.RequestException as exc:
        raise DiscoveryError(f"OIDC_OP_DISCOVERY_URL: cannot fetch {url} ({exc})") from exc
    except ValueError:
        raise DiscoveryError(f"OIDC_OP_DISCOVERY_URL: {url} did not answer with JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
        raise DiscoveryError(f"OIDC_OP_DISCOVERY_URL: {url} is not an OpenID Provider configuration")
    return document


def apply_discovery() -> list[str]:
    """Fill the empty ``OIDC_OP_*`` settings from ``OIDC_OP_DISCOVERY_URL``.

    Called when the identity app starts. A provider that cannot be reached is logged and
    reported by :func:`configuration_problems` (hence ``suite check``); the process still
    starts, so the rest of the suite stays available. Returns the problems found."""
    _discovery_problems.clear()
    url = settings.OIDC_OP_DISCOVERY_URL
    if not url or not settings.OIDC_ENABLED:
        return []
    try:
        document = fetch_discovery(url)
    except DiscoveryError as exc:
        logger.error("OIDC discovery failed: %s", exc)
        _discovery_problems.append(str(exc))
        return discovery_problems()
    configured_issuer = settings.OIDC_OP_ISSUER
    if configured_issuer and configured_issuer != document["issuer"]:
        _discovery_problems.append(
            f"OIDC_OP_ISSUER: {configured_issuer!r} differs from the issuer "
            f"{document['issuer']!r} announced at OIDC_OP_DISCOVERY_URL"
        )
    filled = []
    for name, member in DISCOVERY_SETTINGS.items():
        value = document.get(member)
        if not getattr(settings, name, "") and isinstance(value, str) and value:
            setattr(settings, name, value)
            filled.append(name)
    logger.info("OIDC discovery from %s filled: %s", url, ", ".join(filled) or "nothing")
    return discovery_problems()


def discovery_problems() -> list[str]:
    return list(_discovery_problems)


def configuration_problems() -> list[str]:
    """What keeps OIDC from working, each naming the variable to fix."""
    problems = discovery_problems()
    if settings.OIDC_ENABLED:
        for name in REQUIRED_ENDPOINTS:
            if not getattr(settings, name, ""):
                problems.append(
                    f"{name}: must be set (or found through OIDC_OP_DISCOVERY_URL) "
                    "when OIDC_RP_CLIENT_ID is set"
                )
    return problems


@checks.register("oidc")
def check_oidc_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [checks.Error(problem, id="identity.E001") for problem in configuration_problems()]
