"""OpenID Connect: login through the provider (mozilla-django-oidc), provider discovery,
RP-initiated and back-channel logout, and the provider's access tokens presented to the API.

Settings are read when they are used, never at import: discovery fills the empty endpoint
settings when the identity app starts, and tests override them per test. The names below are
the entry points the rest of the suite uses (settings name ``SuiteOIDCBackend`` and
``provider_logout_url`` by dotted path). See docs/decisions/0004-oidc.md.
"""

from suite.identity.oidc.bearer import authenticate_access_token, authenticate_access_token_claims
from suite.identity.oidc.claims import LoginRefused, user_for_claims
from suite.identity.oidc.discovery import (
    apply_discovery,
    configuration_problems,
    discovery_problems,
)
from suite.identity.oidc.login import SuiteOIDCBackend, provider_logout_url
from suite.identity.oidc.logout import (
    backchannel_logout,
    end_provider_sessions,
    validate_logout_token,
)
from suite.identity.oidc.signed import InvalidToken, jwks_client, verify_provider_jwt

__all__ = [
    "InvalidToken",
    "LoginRefused",
    "SuiteOIDCBackend",
    "apply_discovery",
    "authenticate_access_token",
    "authenticate_access_token_claims",
    "backchannel_logout",
    "configuration_problems",
    "discovery_problems",
    "end_provider_sessions",
    "jwks_client",
    "provider_logout_url",
    "user_for_claims",
    "validate_logout_token",
    "verify_provider_jwt",
]
