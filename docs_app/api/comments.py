"""``/api/v1/documents/{document_id}/threads/...``: comment threads, replies, resolution and
reactions. Reading follows the document's visibility (anonymous visitors of a public link
included); writing needs an authenticated commenter or above (see
``docs_app.services.comments`` for the rules)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from docs_app.schemas.comments import CommentIn, CommentOut, Emoji, ThreadIn, ThreadOut
from docs_app.selectors import comments as selectors
from docs_app.services import comments as services
from suite.identity.auth import OptionalAuth, actor

router = Router(tags=["comments"])

THREAD = "/{document_id}/threads/{thread_id}"
COMMENT = THREAD + "/comments/{comment_id}"


@router.get(
    "/{document_id}/threads/", response=list[ThreadOut], auth=OptionalAuth(),
    summary="Comment threads of a document (filter: resolved=true|false)",
)
@paginate
def thread_list(request: HttpRequest, document_id: str, resolved: bool | None = None):
    return selectors.document_threads(actor=actor(request), document_id=document_id, resolved=resolved)


@router.post("/{document_id}/threads/", response={201: ThreadOut}, summary="Open a thread")
def thread_create(request: HttpRequest, document_id: str, payload: ThreadIn):
    document, thread = services.thread_create(
        actor=actor(request), document_id=document_id, anchor=payload.anchor, body=payload.body
    )
    return Status(201, selectors.thread_detail(document, actor(request), thread.pk))


@router.get(THREAD, response=ThreadOut, auth=OptionalAuth(), summary="One comment thread")
def thread_detail(request: HttpRequest, document_id: str, thread_id: str):
    return selectors.document_thread(actor=actor(request), document_id=document_id, thread_id=thread_id)


@router.delete(THREAD, response={204: None}, summary="Delete a thread (its creator or an administrator)")
def thread_delete(request: HttpRequest, document_id: str, thread_id: str):
    services.thread_delete(actor=actor(request), document_id=document_id, thread_id=thread_id)
    return Status(204, None)


@router.post(THREAD + "/resolve", response=ThreadOut, summary="Resolve a thread")
def thread_resolve(request: HttpRequest, document_id: str, thread_id: str):
    document = services.thread_resolve(actor=actor(request), document_id=document_id, thread_id=thread_id)
    return selectors.thread_detail(document, actor(request), thread_id)


@router.post(THREAD + "/reopen", response=ThreadOut, summary="Reopen a resolved thread")
def thread_reopen(request: HttpRequest, document_id: str, thread_id: str):
    document = services.thread_reopen(actor=actor(request), document_id=document_id, thread_id=thread_id)
    return selectors.thread_detail(document, actor(request), thread_id)


@router.post(THREAD + "/comments/", response={201: CommentOut}, summary="Reply in a thread")
def comment_create(request: HttpRequest, document_id: str, thread_id: str, payload: CommentIn):
    document, comment = services.comment_create(
        actor=actor(request), document_id=document_id, thread_id=thread_id, body=payload.body
    )
    return Status(201, selectors.comment_detail(document, actor(request), comment.pk))


@router.patch(COMMENT, response=CommentOut, summary="Edit your comment")
def comment_update(request: HttpRequest, document_id: str, thread_id: str, comment_id: str, payload: CommentIn):
    document, comment = services.comment_update(
        actor=actor(request), document_id=document_id, thread_id=thread_id,
        comment_id=comment_id, body=payload.body,
    )
    return selectors.comment_detail(document, actor(request), comment.pk)


@router.delete(
    COMMENT, response={204: None},
    summary="Delete your comment (administrators may delete any); the last one takes its thread",
)
def comment_delete(request: HttpRequest, document_id: str, thread_id: str, comment_id: str):
    services.comment_delete(
        actor=actor(request), document_id=document_id, thread_id=thread_id, comment_id=comment_id
    )
    return Status(204, None)


@router.put(COMMENT + "/reactions/{emoji}", response=CommentOut, summary="React to a comment")
def reaction_add(request: HttpRequest, document_id: str, thread_id: str, comment_id: str, emoji: Emoji):
    document = services.reaction_add(
        actor=actor(request), document_id=document_id, thread_id=thread_id,
        comment_id=comment_id, emoji=emoji,
    )
    return selectors.comment_detail(document, actor(request), comment_id)


@router.delete(COMMENT + "/reactions/{emoji}", response={204: None}, summary="Take back your reaction")
def reaction_remove(request: HttpRequest, document_id: str, thread_id: str, comment_id: str, emoji: Emoji):
    services.reaction_remove(
        actor=actor(request), document_id=document_id, thread_id=thread_id,
        comment_id=comment_id, emoji=emoji,
    )
    return Status(204, None)
