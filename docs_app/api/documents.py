"""Document endpoints: CRUD, list and search, trash, tree, move, duplicate, favorites, recent.

``collection_router`` holds the static paths (``/``, ``/trash``, ``/favorites``, ``/recent``)
and is mounted before ``item_router`` (``/{document_id}...``). Ids in paths are strings:
``access_document`` turns a malformed one into the same 404 as a missing one.
"""

# No ``from __future__ import annotations`` here: ``@paginate`` wraps handlers in a function
# of another module, where ninja could not resolve string annotations such as the filters.

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from docs_app.permissions import access_document
from docs_app.schemas.documents import (
    DocumentCreateIn,
    DocumentDuplicateIn,
    DocumentListItemOut,
    DocumentMoveIn,
    DocumentOrdering,
    DocumentOut,
    DocumentScope,
    DocumentUpdateIn,
    TreeNodeOut,
    VisitedDocumentOut,
    document_out,
)
from docs_app.selectors import documents as selectors
from docs_app.services import documents as services
from suite.access.models import PATH_STEP
from suite.identity.auth import OptionalAuth, actor
from suite.openapi import error_statuses

collection_router = Router()
item_router = Router()


class DocumentFilters(Schema):
    q: str | None = Field(
        None,
        description=(
            "Search the title and content (web-search syntax; the first 256 characters count)."
        ),
    )
    scope: DocumentScope = "all"
    parent: str | None = None
    ordering: DocumentOrdering = "-updated_at"


def _detail(request: HttpRequest, document) -> DocumentOut:  # type: ignore[no-untyped-def]
    who = actor(request)
    return document_out(selectors.document_detail(who, document), who)


# --- collection -------------------------------------------------------------------------------


@collection_router.get(
    "/",
    response=list[DocumentListItemOut],
    summary="List documents: your entry points by default, or search (q), children (parent)",
    description=(
        "Without `q` or `parent`, `scope=all` lists the documents on which you or one of your "
        "teams hold an access on the document itself (your roots and what was shared with "
        "you directly), not their descendants. `parent=<id>` lists the visible children of a "
        "document. `q` searches every document you can see, by title and content: a title "
        "containing `q`, or title or content words matching it (French and English forms: "
        "`chevaux` finds `cheval`, `running` finds `run`), accent- and case-insensitive; "
        "web-search syntax (`\"exact phrase\"`, `or`, `-excluded`). Results come best match "
        "first (title matches, then content relevance), then in `ordering`; each has a "
        "`snippet`. "
        "`scope`: `mine` (created by you), `shared` (granted to you or your teams, not "
        "created by you), `favorites`."
    ),
)
@paginate
def document_list(request: HttpRequest, filters: Query[DocumentFilters]):
    who = actor(request)
    parent = access_document(who, filters.parent) if filters.parent is not None else None
    q = (filters.q or "").strip() or None
    return selectors.document_list(
        who, scope=filters.scope, q=q, parent=parent, ordering=filters.ordering
    )


@collection_router.post("/", response={201: DocumentOut}, summary="Create a document")
def document_create(request: HttpRequest, payload: DocumentCreateIn):
    document = services.document_create(
        actor=actor(request), title=payload.title, parent_id=payload.parent
    )
    return Status(201, _detail(request, document))


@collection_router.get(
    "/trash",
    response=list[DocumentOut],
    summary="Documents in the trash that you can restore (roots of deleted subtrees)",
)
@paginate
def document_trash(request: HttpRequest):
    return selectors.document_trash(actor(request))


@collection_router.get("/favorites", response=list[DocumentOut], summary="Your favorite documents")
@paginate
def document_favorites(request: HttpRequest):
    return selectors.document_favorites(actor(request))


@collection_router.get(
    "/recent", response=list[VisitedDocumentOut], summary="Documents you visited, latest first"
)
@paginate
def document_recent(request: HttpRequest):
    return selectors.document_recent(actor(request))


# --- one document -----------------------------------------------------------------------------


@item_router.get(
    "/{document_id}",
    response=DocumentOut,
    auth=OptionalAuth(),
    summary="A document (also records your visit)",
)
def document_retrieve(request: HttpRequest, document_id: str):
    who = actor(request)
    document = access_document(who, document_id)
    services.document_visit(actor=who, document=document)
    return _detail(request, document)


@item_router.patch(
    "/{document_id}",
    response=DocumentOut,
    summary="Update title/excerpt (editors) or link_reach/link_role (administrators)",
)
def document_update(request: HttpRequest, document_id: str, payload: DocumentUpdateIn):
    document = services.document_update(
        actor=actor(request), document_id=document_id, request=request,
        **payload.dict(exclude_unset=True, exclude_none=True),
    )
    return _detail(request, document)


@item_router.delete(
    "/{document_id}",
    response={204: None},
    summary=(
        "Move a document and its subtree to the trash (administrators); with ?hard=true, "
        "delete it and its subtree for good (owners only)"
    ),
)
def document_delete(request: HttpRequest, document_id: str, hard: bool = False):
    if hard:
        services.document_destroy(actor=actor(request), document_id=document_id)
    else:
        services.document_delete(actor=actor(request), document_id=document_id)
    return Status(204, None)


@item_router.post(
    "/{document_id}/restore", response=DocumentOut, summary="Restore a document from the trash"
)
@error_statuses(409)
def document_restore(request: HttpRequest, document_id: str):
    document = services.document_restore(actor=actor(request), document_id=document_id)
    return _detail(request, document)


@item_router.get(
    "/{document_id}/children",
    response=list[DocumentOut],
    auth=OptionalAuth(),
    summary="Children of a document, in sibling order",
)
@paginate
def document_children(request: HttpRequest, document_id: str):
    who = actor(request)
    return selectors.document_children(who, access_document(who, document_id))


@item_router.get(
    "/{document_id}/tree",
    response=list[TreeNodeOut],
    auth=OptionalAuth(),
    summary="Sidebar tree: visible ancestors with their siblings, and the document's children",
)
def document_tree(request: HttpRequest, document_id: str):
    who = actor(request)
    document = access_document(who, document_id)
    nodes: dict[str, dict] = {}
    top: list[dict] = []
    for row in selectors.document_tree(who, document):  # parents come before children
        node = TreeNodeOut.model_validate(row, context={"actor": who}).model_dump()
        nodes[row.path] = node
        parent = nodes.get(row.path[:-PATH_STEP]) if row.depth > 1 else None
        (parent["children"] if parent is not None else top).append(node)
    return top


@item_router.post(
    "/{document_id}/move",
    response=DocumentOut,
    summary=(
        "Move a document under `parent` (null: to the root), right `before` or `after` a "
        "sibling id, or last"
    ),
)
def document_move(request: HttpRequest, document_id: str, payload: DocumentMoveIn):
    document = services.document_move(
        actor=actor(request), document_id=document_id, parent_id=payload.parent,
        before_id=payload.before, after_id=payload.after,
    )
    return _detail(request, document)


@item_router.post(
    "/{document_id}/duplicate",
    response={201: DocumentOut},
    summary="Duplicate a document (optionally with its descendants), placed right after it",
)
def document_duplicate(request: HttpRequest, document_id: str, payload: DocumentDuplicateIn):
    copy = services.document_duplicate(
        actor=actor(request), document_id=document_id, with_descendants=payload.with_descendants
    )
    return Status(201, _detail(request, copy))


@item_router.put(
    "/{document_id}/favorite", response={204: None}, summary="Add a document to your favorites"
)
def favorite_add(request: HttpRequest, document_id: str):
    services.favorite_add(actor=actor(request), document_id=document_id)
    return Status(204, None)


@item_router.delete(
    "/{document_id}/favorite",
    response={204: None},
    summary="Remove a document from your favorites",
)
def favorite_remove(request: HttpRequest, document_id: str):
    services.favorite_remove(actor=actor(request), document_id=document_id)
    return Status(204, None)

