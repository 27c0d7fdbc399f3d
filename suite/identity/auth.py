"""API authentication: session (+CSRF) for browsers, ``Authorization: Bearer`` with an API
token or an OIDC access token for everything else. Also enforces token scopes."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer

from suite.errors import SuiteError
from suite.identity import credentials, oidc
from suite.identity import scopes as token_scopes
from suite.identity.middleware import activate_user_language
from suite.identity.models import User
from suite.identity.tokens import authenticate_api_token, looks_like_api_token

API_PREFIX = "/api/v1/"

#: First path segment under /api/v1/ → token scope area. Apps register theirs with
#: ``suite.api.register_router``.
ROUTE_AREAS: dict[str, str] = {
    "users": "account",
    "teams": "account",
    "tokens": "account",
    "realtime": "realtime",
}


def actor(request: HttpRequest) -> User:
    """The authenticated user of an API request (the API denies anonymous calls unless an
    operation opts out, so handlers can rely on it)."""
    return cast(User, request.user)


def area_of(path: str) -> str | None:
    if not path.startswith(API_PREFIX):
        return None
    segment = path[len(API_PREFIX) :].split("/", 1)[0]
    return ROUTE_AREAS.get(segment)


def check_scope(request: HttpRequest, scopes: list[str] | None) -> None:
    if not scopes:
        return
    area = area_of(request.path)
    if area is None or not token_scopes.allows(scopes, area, request.method or "GET"):
        raise SuiteError(
            _("This token's scopes do not allow this request."),
            code="insufficient_scope",
            status=403,
            details={"token_scopes": scopes, "required": area},
        )


def _login(
    request: HttpRequest, user: Any, *, credential: Any, token: Any = None, scopes: list[str] | None = None
) -> Any:
    request.user = user
    request.auth_token = token  # type: ignore[attr-defined]
    request.auth_scopes = scopes or None  # type: ignore[attr-defined]
    # What the request was authenticated with (suite.identity.credentials): a websocket
    # ticket minted now lives no longer than it.
    request.auth_credential = credential  # type: ignore[attr-defined]
    activate_user_language(user)
    return user


class BearerAuth(HttpBearer):
    """``Authorization: Bearer cmn_...`` (API token) or an OIDC access token."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if looks_like_api_token(token):
            api_token = authenticate_api_token(token, request)
            if api_token is None:
                return None
            check_scope(request, api_token.scopes)
            return _login(
                request, api_token.user, credential=credentials.token_credential(api_token),
                token=api_token, scopes=api_token.scopes,
            )
        found = oidc.authenticate_access_token_claims(token)
        if found is None:
            return None
        user, claims = found
        return _login(request, user, credential=credentials.oidc_credential(claims, user))


class SessionAuth(APIKeyCookie):
    """The Django session cookie; unsafe methods must carry the CSRF token."""

    param_name = "sessionid"
    openapi_description = "Django session cookie (send the CSRF token with unsafe methods)."

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        from django.conf import settings

        self.param_name = settings.SESSION_COOKIE_NAME
        if self.param_name not in request.COOKIES:
            # No session, nothing for CSRF to protect: an anonymous POST must get the
            # uniform 401, not ninja's CSRF 403 (which runs before it looks for the cookie).
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            session_key = request.session.session_key  # type: ignore[attr-defined]
            credential = credentials.session_credential(session_key, user) if session_key else None
            return _login(request, user, credential=credential)
        return None


def api_auth() -> list[Any]:
    return [BearerAuth(), SessionAuth()]


class OptionalAuth:
    """For endpoints that also serve anonymous visitors (public links): authenticates when it
    can and lets the request through as anonymous otherwise. Use on purpose only."""

    def __call__(self, request: HttpRequest) -> Any:
        for auth in api_auth():
            result = auth(request)
            if result:
                return result
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()
        request.auth_token = None  # type: ignore[attr-defined]
        request.auth_scopes = None  # type: ignore[attr-defined]
        request.auth_credential = None  # type: ignore[attr-defined]
        return True
