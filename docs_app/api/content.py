"""Content and versions of a document, without a websocket.

``GET /{id}/content?format=`` and ``PATCH /{id}/content`` read and change the content (a
change is a CRDT update applied through the same log and fan-out as editors' edits, so live
editors see it at once); ``/{id}/versions/`` lists, creates, reads, restores and deletes
versions. Rules are in :mod:`docs_app.services.content`.
"""

# No ``from __future__ import annotations``: ``@paginate`` needs real annotations.

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from docs_app.schemas.content import (
    ContentIn,
    ContentOut,
    DocumentVersionIn,
    DocumentVersionOut,
    ReadFormat,
)
from docs_app.services import content as services
from suite.identity.auth import OptionalAuth, actor
from suite.limits import body_limit

router = Router()


@router.get(
    "/{document_id}/content", response=ContentOut, auth=OptionalAuth(),
    summary="The content, as Yjs, ProseMirror JSON, Markdown, HTML or text",
)
def content_get(request: HttpRequest, document_id: str, format: ReadFormat = "json"):  # noqa: A002
    value = services.content_read(actor=actor(request), document_id=document_id, fmt=format)
    return {"format": format, "content": value}


@router.patch(
    "/{document_id}/content", response=ContentOut,
    summary="Change the content (merged as a CRDT change; answers the new ProseMirror JSON)",
)
@body_limit("DOCS_CONTENT_MAX_BODY_BYTES")  # whole documents are imported here
def content_patch(request: HttpRequest, document_id: str, payload: ContentIn):
    doc = services.content_write(
        actor=actor(request), document_id=document_id, fmt=payload.format,
        value=payload.content, mode=payload.mode,
    )
    return {"format": "json", "content": services.render_doc(doc, "json")}


@router.get("/{document_id}/versions/", response=list[DocumentVersionOut], summary="Versions, latest first")
@paginate
def version_list(request: HttpRequest, document_id: str):
    return services.version_list(actor=actor(request), document_id=document_id)


@router.post("/{document_id}/versions/", response={201: DocumentVersionOut}, summary="Name a version")
def version_create(request: HttpRequest, document_id: str, payload: DocumentVersionIn):
    version = services.version_create(actor=actor(request), document_id=document_id,
                                      name=payload.name)
    return Status(201, version)


@router.get(
    "/{document_id}/versions/{version_id}/content", response=ContentOut,
    summary="A version's content",
)
def version_content(request: HttpRequest, document_id: str, version_id: str,
                    format: ReadFormat = "json"):  # noqa: A002
    value = services.version_read(actor=actor(request), document_id=document_id,
                                  version_id=version_id, fmt=format)
    return {"format": format, "content": value}


@router.post(
    "/{document_id}/versions/{version_id}/restore", response={204: None},
    summary="Restore a version (as a new change on top of the current content)",
)
def version_restore(request: HttpRequest, document_id: str, version_id: str):
    services.version_restore(actor=actor(request), document_id=document_id, version_id=version_id)
    return Status(204, None)


@router.delete(
    "/{document_id}/versions/{version_id}", response={204: None}, summary="Delete a version"
)
def version_delete(request: HttpRequest, document_id: str, version_id: str):
    services.version_delete(actor=actor(request), document_id=document_id, version_id=version_id)
    return Status(204, None)
