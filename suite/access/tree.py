"""Materialized-path tree operations shared by every tree of access-controlled resources
(documents, drive items).

Paths are fixed-width base-36 segments (``PATH_STEP`` characters per level, ``C`` collation):
a subtree is ``path LIKE '<prefix>%'`` (one index range scan) and the ancestors of a node are
the prefixes of its path, which is also how the access layer resolves inherited roles. A new
root takes its segment from a per-tree sequence, a new child from its parent's
``child_counter`` (incremented atomically), so segments are never reused.

Structure changes (moves) take one transaction-level advisory lock per tree, so two
concurrent moves are serialized and can never interleave their path rewrites.
"""

from __future__ import annotations

import zlib
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from suite.access.models import PATH_STEP, AccessControlled, path_segment
from suite.errors import NotFound

MAX_DEPTH = 252 // PATH_STEP


def lock_tree(model: type[AccessControlled]) -> None:
    """Serialize structural changes of ``model``'s tree until the current transaction ends."""
    key = (0x636F6D6D << 32) | zlib.crc32(model._meta.db_table.encode())  # "comm" + the table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [key])


def new_root_path(sequence: str) -> str:
    """A new root segment from ``sequence`` (created by the app's migration)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [sequence])
        (number,) = cursor.fetchone()
    return path_segment(number)


def new_child_path(model: type[AccessControlled], parent_id: Any) -> str:
    """The path of a new child of ``parent_id`` (increments the parent's counter, in one
    statement; the parent's row stays locked until the transaction ends, so keep what follows
    short). A parent in the trash takes no child: when a trash of it commits while this
    waits for its row, PostgreSQL re-checks the row and the folder is gone (404); when this
    commits first, the trash marks the new child too (it repeats its marking until nothing
    is left: ``mark_subtree_deleted``)."""
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(str(model._meta.pk.column))  # trees declare child_counter, ancestors_deleted_at
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET child_counter = child_counter + 1 "  # noqa: S608
            f"WHERE {pk} = %s AND ancestors_deleted_at IS NULL RETURNING path, child_counter",
            [parent_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("The folder no longer exists."))
    path, counter = row
    return str(path) + path_segment(counter - 1)


def mark_subtree_deleted(model: type[AccessControlled], path: str, when: Any) -> None:
    """Mark the live nodes under ``path`` (itself included) deleted at ``when``, again until
    none is left: a child created concurrently, committed while the first pass waited for its
    parent's row, is not in that pass's snapshot but is in the next one's."""
    live: dict[str, Any] = {"path__startswith": path, "ancestors_deleted_at__isnull": True}  # trees declare it
    marked: dict[str, Any] = {"ancestors_deleted_at": when}
    while model._default_manager.filter(**live).update(**marked):
        pass


def rewrite_subtree(model: type[AccessControlled], old_prefix: str, new_prefix: str) -> int:
    """Move every node whose path starts with ``old_prefix`` under ``new_prefix``, adjusting
    depths. Call with the tree lock held. Returns the number of rows moved."""
    depth_delta = (len(new_prefix) - len(old_prefix)) // PATH_STEP
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET path = %s || substr(path, %s), depth = depth + %s "  # noqa: S608
            "WHERE path LIKE %s",
            [new_prefix, len(old_prefix) + 1, depth_delta, old_prefix + "%"],
        )
        return cursor.rowcount
