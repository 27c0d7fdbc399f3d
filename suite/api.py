"""The NinjaAPI root at /api/v1/: authentication, the uniform error handlers, and the
routers of the platform and of every enabled app.

Deny by default: the API is created with authentication; an operation that serves anonymous
visitors says so with ``auth=None`` (or ``OptionalAuth``) on purpose.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    Throttled,
    ValidationError,
)
from pydantic import BaseModel

from suite.errors import (
    ErrorCode,
    SuiteError,
    body_too_large,
    error_response,
    suite_error_response,
)
from suite.identity.auth import ROUTE_AREAS, api_auth
from suite.limits import enforce_body_limit
from suite.openapi import SuiteOpenAPISchema
from suite.schemas import InputSchema

logger = logging.getLogger(__name__)


class SuiteAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document also describes every error response of every
    operation in the uniform shape (:mod:`suite.openapi`), so generated clients know them."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> SuiteOpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return SuiteOpenAPISchema(self, path_prefix)


def register_router(api: NinjaAPI, prefix: str, router: Router, *, scope_area: str) -> None:
    """Mount an app's router at ``/api/v1/<prefix>/`` and say which token scope area it is."""
    _check_bodies(router)
    ROUTE_AREAS[prefix.strip("/").split("/", 1)[0]] = scope_area
    api.add_router(prefix, router)


def _check_bodies(router: Router) -> None:
    """Refuse to mount an operation whose JSON body, or an object nested in it, is not an
    :class:`~suite.schemas.InputSchema`: it would read any JSON value as an object and ignore
    unknown fields."""
    for path, path_view in router.path_operations.items():
        for operation in path_view.operations:
            for model in operation.models:
                if model.__ninja_param_source__ != "body":
                    continue
                for field in model.model_fields.values():
                    for schema in _models_in(field.annotation):
                        if not issubclass(schema, InputSchema):
                            raise ImproperlyConfigured(
                                f"{operation.view_func.__module__}.{operation.view_func.__name__} "
                                f"({path}): body schema {schema.__name__} must derive from "
                                "suite.schemas.InputSchema"
                            )
    for _prefix, child, _tags in router._routers:
        _check_bodies(child)


def refuse_repeated_parameters(run: Callable[..., Any]) -> Callable[..., Any]:
    """ninja ``view`` decorator of every operation: a query parameter that takes one value,
    given twice (``?q=a&q=b``), is a 422 naming it; ninja would keep the last one without a
    word."""
    operation = inspect.unwrap(run).__self__  # type: ignore[attr-defined]  # the bound Operation.run
    single: set[str] = set()
    for model in operation.models:
        if model.__ninja_param_source__ == "query":
            single |= set(model.__ninja_flatten_map__) - set(getattr(model, "__ninja_collection_fields__", ()))

    @functools.wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        repeated = sorted(name for name in single if len(request.GET.getlist(name)) > 1)
        if repeated:
            errors = [{"loc": ("query", name), "msg": _("Give this parameter once."),
                       "type": "repeated_parameter"} for name in repeated]
            return operation.api.on_exception(request, ValidationError(errors))
        return run(request, *args, **kwargs)

    return checked


def _models_in(annotation: Any, seen: set[type] | None = None) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds, nested ones included."""
    seen = set() if seen is None else seen
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        found = [annotation]
        for field in annotation.model_fields.values():
            found += _models_in(field.annotation, seen)
        return found
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg, seen)]


def _validation_details(errors: list[dict[str, Any]]) -> dict[str, Any]:
    fields = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        fields.append(
            {
                "location": location,
                "field": ".".join(location[2:] if location[:1] == ["body"] else location[1:]) or None,
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
        )
    return {"errors": fields}


def build_api() -> NinjaAPI:
    from django.conf import settings

    from suite.identity.api import teams_router, tokens_router, users_router
    from suite.realtime.api import router as realtime_router

    api = SuiteAPI(
        title="Communs API",
        version="1",
        description=(
            "REST API of Communs. Authenticate with `Authorization: Bearer <API token or OIDC "
            "access token>` or with the session cookie (+ `X-CSRFToken`). Errors always have "
            'the shape `{"error": {"code", "message", "details"}}`.'
        ),
        urls_namespace="api-v1",
        auth=api_auth(),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )

    @api.exception_handler(SuiteError)
    def on_suite_error(request: HttpRequest, exc: SuiteError) -> HttpResponse:
        return suite_error_response(exc)

    @api.exception_handler(ValidationError)
    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(422, ErrorCode.VALIDATION_ERROR, details=_validation_details(exc.errors))

    @api.exception_handler(AuthenticationError)
    def on_authentication_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        response = error_response(401, ErrorCode.NOT_AUTHENTICATED)
        response["WWW-Authenticate"] = 'Bearer realm="communs"'
        return response

    @api.exception_handler(AuthorizationError)
    def on_authorization_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(403, ErrorCode.PERMISSION_DENIED)

    @api.exception_handler(Throttled)
    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(int(wait))} if wait else {}
        return error_response(429, ErrorCode.RATE_LIMITED, headers=headers)

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403 and "CSRF" in str(exc):
            return error_response(403, ErrorCode.CSRF_FAILED)
        from suite.errors import STATUS_CODES

        code = STATUS_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
        return error_response(exc.status_code, code)

    @api.exception_handler(RequestDataTooBig)
    def on_body_too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
        return body_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    @api.exception_handler(Http404)
    def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(404, ErrorCode.NOT_FOUND)

    @api.exception_handler(DjangoPermissionDenied)
    def on_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(403, ErrorCode.PERMISSION_DENIED)

    @api.exception_handler(Exception)
    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in API operation")
        return error_response(500, ErrorCode.INTERNAL_ERROR)

    # Before ninja parses a body: the operation's body limit (suite.limits).
    api.add_decorator(enforce_body_limit, mode="view")
    api.add_decorator(refuse_repeated_parameters, mode="view")

    register_router(api, "/users/", users_router, scope_area="account")
    register_router(api, "/teams/", teams_router, scope_area="account")
    register_router(api, "/tokens/", tokens_router, scope_area="account")
    register_router(api, "/realtime/", realtime_router, scope_area="realtime")

    # Each enabled app exposes `api_routers()` -> [(prefix, router, scope_area)].
    from django.apps import apps

    for module in settings.PRODUCT_MODULES:
        config = apps.get_app_config(module.rsplit(".", 1)[-1])
        for prefix, router, area in getattr(config, "api_routers", lambda: [])():
            register_router(api, prefix, router, scope_area=area)
    return api
