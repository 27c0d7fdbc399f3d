"""The sharing endpoints of any access-controlled resource, built once for every app.

An app mounts them under its own collection with its own ``access_<thing>`` helper::

    router = sharing_router(fetch=access_item, path_param="item_id", tags=["drive"])
    # GET    /{item_id}/accesses/               who has access (with inherited grants)
    # POST   /{item_id}/accesses/               grant a role to a user or a team
    # PATCH  /{item_id}/accesses/{access_id}    change a role
    # DELETE /{item_id}/accesses/{access_id}    revoke (or leave)

``fetch`` decides what "missing" means for the app (trash, visibility) and answers the same
404 for missing and invisible; the handlers ask it for ``Perm.VIEW`` (list, leave) or
``Perm.SHARE`` (grant, change), then call ``suite.access.sharing``.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any, Protocol

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from suite.access import sharing
from suite.access.models import AccessControlled
from suite.access.roles import Perm
from suite.access.schemas import AccessCreateIn, AccessOut, RoleIn
from suite.identity.auth import actor
from suite.openapi import error_statuses


class ResourceFetcher(Protocol):
    """An app's ``access_<thing>(actor, id, *, need=...)`` helper: the resource annotated
    with the actor's ``effective_role``, or ``NotFound`` (missing or invisible) /
    ``PermissionDenied`` (visible, but ``need`` not met)."""

    def __call__(self, actor: Any, resource_id: Any, /, *, need: Perm = ...) -> AccessControlled: ...


def _with_path_param(handler: Callable[..., Any], path_param: str) -> Callable[..., Any]:
    """Give ``handler``'s ``**path`` catch-all the name of the app's path parameter, so
    ninja reads ``{<path_param>}`` from the URL and documents it under that name.

    Handlers are declared ``(request, *, ..., **path)``; ninja builds its parameters from
    ``inspect.signature``, which honours ``__signature__``. Annotations are resolved here
    because ninja evaluates string annotations in the namespace of the outermost wrapper
    (``paginate``'s), not of this module."""
    hints = typing.get_type_hints(handler)
    parameters = [
        parameter.replace(annotation=hints.get(parameter.name, parameter.annotation))
        for parameter in inspect.signature(handler).parameters.values()
        if parameter.kind is not parameter.VAR_KEYWORD
    ]
    named = inspect.Parameter(path_param, inspect.Parameter.KEYWORD_ONLY, annotation=str)
    parameters.insert(1, named)
    handler.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return handler


def sharing_router(
    *,
    fetch: ResourceFetcher,
    path_param: str,
    tags: list[str],
    module: str | None = None,
) -> Router:
    """A router with the four sharing endpoints of the resource ``fetch`` returns.

    Operation ids are ``<module>_<handler>`` (``module`` defaults to the caller's module),
    exactly what ninja would name handlers written in that module, so each app keeps its
    own, distinct ids in the OpenAPI document."""
    if module is None:
        module = sys._getframe(1).f_globals.get("__name__", __name__)
    prefix = module.replace(".", "_")
    collection = f"/{{{path_param}}}/accesses/"
    member = f"/{{{path_param}}}/accesses/{{access_id}}"
    router = Router(tags=tags)

    def access_out(request: HttpRequest, resource_id: str, access_id: int) -> Any:
        # Re-read the actor's role: the write may have changed it (an owner downgrading
        # itself).
        resource = fetch(actor(request), resource_id, need=Perm.VIEW)
        return sharing.resource_access(resource, actor(request), access_id)

    def access_list(request: HttpRequest, **path: str) -> Any:
        resource = fetch(actor(request), path[path_param], need=Perm.VIEW)
        return sharing.resource_accesses(resource, actor(request))

    def access_create(request: HttpRequest, *, payload: AccessCreateIn, **path: str) -> Any:
        resource_id = path[path_param]
        resource = fetch(actor(request), resource_id, need=Perm.SHARE)
        access = sharing.grant_create(
            actor=actor(request), resource=resource, role=payload.role,
            user_id=payload.user, team_id=payload.team, request=request,
        )
        return Status(201, access_out(request, resource_id, access.pk))

    def access_update(
        request: HttpRequest, *, access_id: str, payload: RoleIn, **path: str
    ) -> Any:
        resource_id = path[path_param]
        resource = fetch(actor(request), resource_id, need=Perm.SHARE)
        access = sharing.grant_change(
            actor=actor(request), resource=resource, access_id=access_id,
            role=payload.role, request=request,
        )
        return access_out(request, resource_id, access.pk)

    def access_delete(request: HttpRequest, *, access_id: str, **path: str) -> Any:
        resource = fetch(actor(request), path[path_param], need=Perm.VIEW)
        sharing.grant_delete(
            actor=actor(request), resource=resource, access_id=access_id, request=request
        )
        return Status(204, None)

    router.get(
        collection, response=list[AccessOut], summary="Who has access",
        operation_id=f"{prefix}_access_list",
    )(paginate(_with_path_param(access_list, path_param)))
    router.post(
        collection, response={201: AccessOut}, summary="Grant a role",
        operation_id=f"{prefix}_access_create",
    )(error_statuses(409)(_with_path_param(access_create, path_param)))
    router.patch(
        member, response=AccessOut, summary="Change a role",
        operation_id=f"{prefix}_access_update",
    )(error_statuses(409)(_with_path_param(access_update, path_param)))
    router.delete(
        member, response={204: None}, summary="Revoke (or leave)",
        operation_id=f"{prefix}_access_delete",
    )(error_statuses(409)(_with_path_param(access_delete, path_param)))
    return router
