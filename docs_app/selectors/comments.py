"""Reads of comment threads: querysets whose page costs a constant number of queries.

A page of threads is three queries whatever its size: the threads, their comments (with
authors joined), and the reaction summary of those comments. The summary is aggregated by
PostgreSQL (one row per comment and emoji, with window counts), so a comment with thousands
of reactions still sends a handful of rows.

Threads and comments are also annotated with the viewer's role on the document and id
(constants, ``viewer_role`` / ``viewer_id``) so each can carry its ``abilities`` map without
another query.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.postgres.aggregates import BoolOr
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    Prefetch,
    Q,
    QuerySet,
    UUIDField,
    Value,
    Window,
)
from django.utils.translation import gettext as _

from docs_app.models import Comment, CommentThread, Document, Reaction
from docs_app.permissions import access_document
from suite.errors import NotFound


def _viewer(document: Document, actor: Any) -> dict[str, Any]:
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    return {
        "viewer_role": Value(getattr(document, "effective_role", None), output_field=IntegerField()),
        "viewer_id": Value(actor_id, output_field=UUIDField()),
    }


def reaction_summary(actor: Any) -> QuerySet[Reaction]:
    """One ``Reaction`` per (comment, emoji), annotated with ``reaction_count``,
    ``actor_reacted`` and ``first_reacted_at`` (the order clients show them in)."""
    partition = [F("comment_id"), F("emoji")]
    if getattr(actor, "is_authenticated", False):
        mine: Any = Window(
            BoolOr(ExpressionWrapper(Q(user_id=actor.pk), output_field=BooleanField())),
            partition_by=partition,
        )
    else:
        mine = Value(False, output_field=BooleanField())
    return (
        Reaction.objects.annotate(
            reaction_count=Window(Count("id"), partition_by=partition),
            actor_reacted=mine,
            first_reacted_at=Window(Min("created_at"), partition_by=partition),
        )
        # DISTINCT ON keeps one row per group, after the window functions have given every
        # row its group's totals.
        .order_by("comment_id", "emoji")
        .distinct("comment_id", "emoji")
    )


def comments_of(document: Document, actor: Any) -> QuerySet[Comment]:
    """Comments with their author and reaction summary (``reaction_summary``)."""
    return (
        Comment.objects.select_related("author")
        .annotate(**_viewer(document, actor))
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch("reactions", queryset=reaction_summary(actor), to_attr="reaction_summary")
        )
    )


def threads_of(
    document: Document, actor: Any, *, resolved: bool | None = None
) -> QuerySet[CommentThread]:
    """Threads of ``document`` (which the caller has checked the actor may read), oldest
    first, with their comments and reaction summaries prefetched."""
    threads = CommentThread.objects.filter(document=document).annotate(**_viewer(document, actor))
    if resolved is not None:
        threads = threads.filter(resolved_at__isnull=not resolved)
    return threads.order_by("created_at", "id").prefetch_related(
        Prefetch("comments", queryset=comments_of(document, actor))
    )


def document_threads(*, actor: Any, document_id: Any, resolved: bool | None = None) -> QuerySet[CommentThread]:
    """The threads of a document the actor may read (404 otherwise, trash included)."""
    document = access_document(actor, document_id)
    return threads_of(document, actor, resolved=resolved)


def thread_detail(document: Document, actor: Any, thread_id: Any) -> CommentThread:
    thread = threads_of(document, actor).filter(pk=parse_id(thread_id)).first()
    if thread is None:
        raise NotFound(_("No such comment thread."))
    return thread


def document_thread(*, actor: Any, document_id: Any, thread_id: Any) -> CommentThread:
    """One thread of a document the actor may read; a thread of another document is
    missing."""
    return thread_detail(access_document(actor, document_id), actor, thread_id)


def comment_detail(document: Document, actor: Any, comment_id: Any) -> Comment:
    comment = comments_of(document, actor).filter(thread__document=document, pk=comment_id).first()
    if comment is None:
        raise NotFound(_("No such comment."))
    return comment


def parse_id(value: Any) -> uuid.UUID:
    """A UUID from a path parameter; anything else is simply not found (never a 500)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None
