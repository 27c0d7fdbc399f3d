"""Writes on the drive tree: workspaces, folders, rename, move, copy, trash, restore, destroy,
purge, favorites and visits. Files and their bytes are in ``drive_app.services.uploads``.

Every service checks the actor's role on the objects it touches and owns its transaction.
Structural changes (move, trash, restore, destroy) hold the drive tree's advisory lock
(``suite.access.tree.lock_tree``), so they never interleave their path rewrites.
S3 objects are deleted only after the transaction that forgot them commits.

By concern: ``titles`` (validation, free names, conflicts), ``folders`` (workspaces, the
insertion of items, rename, visits, favorites), ``moves`` (move, copy), ``trash`` (trash,
restore, destroy, purge). Callers import from the package.
"""

from drive_app.services.items.folders import (
    VISIT_RESOLUTION_SECONDS,
    conflict_after,
    favorite_add,
    favorite_remove,
    folder_create,
    item_update,
    item_visit,
    new_child,
    parent_for,
    workspace_for,
)
from drive_app.services.items.moves import check_may_take_out, item_copy, item_move
from drive_app.services.items.titles import (
    CONFLICT_POLICIES,
    ROOT_SEQUENCE,
    _sibling_with_title,
    clean_title,
    free_title,
    resolve_title,
    title_conflict,
)
from drive_app.services.items.trash import (
    destroy_subtree,
    item_destroy,
    item_restore,
    item_trash,
    trash_purge,
)

__all__ = [
    "CONFLICT_POLICIES",
    "ROOT_SEQUENCE",
    "VISIT_RESOLUTION_SECONDS",
    "_sibling_with_title",
    "check_may_take_out",
    "clean_title",
    "conflict_after",
    "destroy_subtree",
    "favorite_add",
    "favorite_remove",
    "folder_create",
    "free_title",
    "item_copy",
    "item_destroy",
    "item_move",
    "item_restore",
    "item_trash",
    "item_update",
    "item_visit",
    "new_child",
    "parent_for",
    "resolve_title",
    "title_conflict",
    "trash_purge",
    "workspace_for",
]
