"""Materialized-path tree operations for documents.

Paths are fixed-width base-36 segments (``suite.access.models.PATH_STEP`` characters per
level, ``C`` collation): a subtree is ``path LIKE '<prefix>%'`` (one index range scan) and the
ancestors of a document are the prefixes of its path, which is also how the access layer
resolves inherited roles. A new root takes its segment from a sequence, a new child from its
parent's ``child_counter`` (incremented atomically), so segments are never reused.

Structure changes (move) take one transaction-level advisory lock, so two concurrent moves
are serialized and can never interleave their path rewrites into a corrupted tree.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F

from suite.access.models import PATH_STEP, path_segment

#: Key of the advisory lock serializing structural changes of the document tree.
TREE_LOCK_KEY = 0x636F6D6D756E73  # "communs"
MAX_DEPTH = 252 // PATH_STEP


def lock_tree() -> None:
    """Serialize structural changes until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK_KEY])


def new_root_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('docs_document_root_seq')")
        (number,) = cursor.fetchone()
    return path_segment(number)


def new_child_path(parent_id: object) -> str:
    """The path of a new child of ``parent_id`` (increments the parent's counter)."""
    from docs_app.models import Document

    Document.objects.filter(pk=parent_id).update(child_counter=F("child_counter") + 1)
    path, counter = Document.objects.filter(pk=parent_id).values_list("path", "child_counter").get()
    return path + path_segment(counter - 1)


def rewrite_subtree(old_prefix: str, new_prefix: str) -> int:
    """Move every document whose path starts with ``old_prefix`` under ``new_prefix``,
    adjusting depths. Call with the tree lock held. Returns the number of rows moved."""
    depth_delta = (len(new_prefix) - len(old_prefix)) // PATH_STEP
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE docs_app_document SET path = %s || substr(path, %s), depth = depth + %s "
            "WHERE path LIKE %s",
            [new_prefix, len(old_prefix) + 1, depth_delta, old_prefix + "%"],
        )
        return cursor.rowcount
