"""The OpenAPI document tells the truth about errors: which statuses each operation answers,
all in the uniform error shape (``components/schemas/Error``).

Statuses every operation may answer are added here, once (:data:`COMMON_ERRORS`; 413 with
the operation's own body limit for those taking a body). Statuses that only some operations
answer (a conflict, a lock, a full quota) are declared by the operation itself::

    @router.post("/{item_id}/move/", response=ItemOut, summary="Move into another folder")
    @error_statuses(409, 423)
    def item_move(request, item_id: str, payload: ItemMoveIn): ...

Generated clients and fuzzers (schemathesis checks that every status it meets is declared)
then know every answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from suite.limits import body_limit_of

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Machine-readable error code."},
                "message": {"type": "string", "description": "Human-readable, translated."},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
ERROR_REFERENCE = {"$ref": "#/components/schemas/Error"}

DESCRIPTIONS = {
    400: "Malformed request: a body that is not JSON, NUL characters or lone surrogates "
    "(`details.reason`), or a request the operation cannot carry out as asked.",
    401: "Not authenticated.",
    403: "Authenticated, but not allowed (or insufficient token scope, or a CSRF failure).",
    404: "Not found (or not visible to you).",
    409: "Conflicts with the current state (a name taken, an object in the wrong state...).",
    410: "Gone: the link expired or reached its download limit.",
    413: "The request body is too large (`details.max_bytes`), or the file is.",
    414: "The URL is too long (`details.max_bytes`).",
    416: "The requested byte range is outside the file.",
    422: "Invalid input (`details.errors` names each field).",
    423: "Locked by a WebDAV client or an office editor (`details.locked_by`).",
    429: "Rate limited (`Retry-After`).",
    500: "Internal error.",
    502: "A service this operation relies on answered with an error.",
    503: "A service this operation relies on is unavailable; try again.",
    507: "Not enough room left in the quota.",
}

#: Errors every operation may answer.
COMMON_ERRORS = (400, 401, 403, 404, 414, 422, 429, 500)

_ERROR_STATUSES_ATTRIBUTE = "error_statuses"


def error_statuses(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the error statuses an API handler answers besides :data:`COMMON_ERRORS`.
    Put it under the route decorator."""
    unknown = set(statuses) - set(DESCRIPTIONS)
    if unknown:
        raise ValueError(f"no description for statuses {sorted(unknown)}")

    def mark(handler: Callable[..., Any]) -> Callable[..., Any]:
        setattr(handler, _ERROR_STATUSES_ATTRIBUTE, tuple(statuses))
        return handler

    return mark


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REFERENCE}}}


class SuiteOpenAPISchema(OpenAPISchema):
    """ninja's document, with every operation's error responses."""

    def __init__(self, api: Any, path_prefix: str) -> None:
        super().__init__(api, path_prefix)
        self["components"].setdefault("schemas", {})["Error"] = ERROR_SCHEMA

    def add_schema_definitions(self, definitions: dict[str, Any]) -> None:
        # Components are named after their class: two classes of one name (a drive and a
        # document VersionIn) would silently share one, and one operation would lie.
        for name, definition in definitions.items():
            known = self.schemas.get(name)
            if known is not None and known != definition:
                raise ImproperlyConfigured(
                    f"two different schemas are named {name} in the API document: rename one"
                )
        super().add_schema_definitions(definitions)

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details = super().operation_details(operation)
        responses = details["responses"]
        statuses = {*COMMON_ERRORS, *getattr(operation.view_func, _ERROR_STATUSES_ATTRIBUTE, ())}
        if "requestBody" in details:
            limit = body_limit_of(operation.view_func)
            responses.setdefault(413, _error_response(
                f"The request body is larger than {limit} bytes (`details.max_bytes`)."
            ))
        for status in sorted(statuses):
            responses.setdefault(status, _error_response(DESCRIPTIONS[status]))
        return details
