"""Helpers of the comments tests: documents made through the ORM with correct tree paths,
and a fingerprint of every comment row to prove a refused request changed nothing."""

from __future__ import annotations

from urllib.parse import quote

from docs_app.models import Comment, CommentThread, Document, Reaction
from docs_app.tree import new_child_path, new_root_path


def make_document(*, parent: Document | None = None, title: str = "Document", **fields) -> Document:
    if parent is None:
        return Document.objects.create(path=new_root_path(), depth=1, title=title, **fields)
    return Document.objects.create(
        path=new_child_path(parent.pk), depth=parent.depth + 1, title=title, **fields
    )


def snapshot() -> tuple:
    """Every thread, comment and reaction with the fields a request could change."""
    return (
        sorted(CommentThread.objects.values_list("pk", "document_id", "anchor", "resolved_at", "resolved_by_id")),
        sorted(Comment.objects.values_list("pk", "thread_id", "body", "edited_at", "author_id")),
        sorted(Reaction.objects.values_list("comment_id", "user_id", "emoji")),
    )


def threads_url(document):
    return f"/api/v1/documents/{document.pk}/threads/"


def open_thread(api, actor, document, body="Premier commentaire", anchor="yjs:AAEC"):
    response = api(actor).post(threads_url(document), json={"anchor": anchor, "body": body})
    assert response.status_code == 201, response.content
    return response.json()


def reaction_url(document, thread, comment_id, emoji):
    return f"{threads_url(document)}{thread['id']}/comments/{comment_id}/reactions/{quote(emoji)}"
