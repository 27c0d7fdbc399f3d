"""The documents tree on the shared materialized-path operations (``suite.access.tree``;
decision 0009): the root sequence and the table are the documents' own."""

from __future__ import annotations

from suite.access import tree
from suite.access.tree import MAX_DEPTH

__all__ = ["MAX_DEPTH", "lock_tree", "new_child_path", "new_root_path", "rewrite_subtree"]


def _model():  # type: ignore[no-untyped-def]
    from docs_app.models import Document

    return Document


def lock_tree() -> None:
    """Serialize structural changes of the documents tree until the transaction ends."""
    tree.lock_tree(_model())


def new_root_path() -> str:
    return tree.new_root_path("docs_document_root_seq")


def new_child_path(parent_id: object) -> str:
    return tree.new_child_path(_model(), parent_id)


def rewrite_subtree(old_prefix: str, new_prefix: str) -> int:
    return tree.rewrite_subtree(_model(), old_prefix, new_prefix)
