"""Browser-facing identity views: local password login (when enabled), logout, and the
OIDC back-channel logout endpoint."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from suite.errors import ErrorCode, error_response
from suite.identity import oidc

LOGIN_RATE = "10/m"


@never_cache
@require_http_methods(["GET", "POST"])
def password_login(request: HttpRequest) -> HttpResponse:
    """GET: a CSRF token for the form. POST ``{"email", "password"}``: open a session."""
    if not settings.SUITE_LOCAL_ACCOUNTS:
        return error_response(404, ErrorCode.NOT_FOUND, _("Local accounts are disabled."))
    if request.method == "GET":
        return JsonResponse({"csrf_token": get_token(request)})
    if is_ratelimited(request, group="auth.login", key="ip", rate=LOGIN_RATE, increment=True):
        return error_response(429, ErrorCode.RATE_LIMITED, headers={"Retry-After": "60"})
    try:
        body = json.loads(request.body or b"{}")
        email, password = str(body["email"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return error_response(
            400, ErrorCode.BAD_REQUEST, _("Send a JSON body with email and password.")
        )
    user = auth.authenticate(request, username=email, password=password)
    if user is None or not user.is_active:
        return error_response(401, ErrorCode.NOT_AUTHENTICATED, _("Wrong email or password."))
    auth.login(request, user, backend="suite.identity.backends.LocalPasswordBackend")
    return JsonResponse({"id": str(user.pk), "email": user.email, "csrf_token": get_token(request)})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the session; with OIDC, answer with the provider's end-session URL to visit
    (RP-initiated logout)."""
    redirect_to = oidc.provider_logout_url(request) if settings.OIDC_ENABLED else None
    auth.logout(request)
    return JsonResponse({"logged_out": True, "redirect_to": redirect_to})


@csrf_exempt
@require_POST
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Back-Channel Logout 1.0: the provider POSTs a ``logout_token``."""
    return oidc.backchannel_logout(request)
