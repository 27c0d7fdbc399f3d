"""The document schema: the Tiptap nodes and marks our editors load, with their attributes.

Names, content rules and attribute defaults are those of Tiptap 3 (StarterKit, TaskList,
TaskItem with ``nested: true``, TableKit, Image) as built by ``@tiptap/core``'s ``getSchema``.
The defaults matter beyond validation: y-prosemirror stores every non-null attribute of a node
(defaults included) and the complete attribute object of a mark, and compares them on each
editor transaction; content written without them would be rewritten by the first editor that
touches it, which loses concurrent edits. :func:`write_json` therefore writes what
``Node.fromJSON`` would have filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_URL_LENGTH = 8192
MAX_STRING_ATTR_LENGTH = 1000


def is_int(value: Any) -> bool:
    """An integer, or a float with an integral value (JSON numbers from Yjs are floats)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def normalise_number(value: Any) -> Any:
    """Integral floats back to ints, recursively (Yjs stores every number as a float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [normalise_number(item) for item in value]
    if isinstance(value, dict):
        return {key: normalise_number(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: its default (``None``: absent unless given), whether it must be given,
    a check for non-null values and a phrase naming what the check accepts."""

    default: Any = None
    required: bool = False
    check: Callable[[Any], bool] = lambda value: False
    expected: str = ""


def _int_between(low: int, high: int) -> AttrSpec:
    return AttrSpec(
        check=lambda value: is_int(value) and low <= value <= high,
        expected=f"an integer from {low} to {high}",
    )


def _string(max_length: int = MAX_STRING_ATTR_LENGTH, *, required: bool = False,
            default: str | None = None) -> AttrSpec:
    return AttrSpec(
        default=default,
        required=required,
        check=lambda value: isinstance(value, str) and len(value) <= max_length,
        expected=f"a string of at most {max_length} characters",
    )


def _url(*, required: bool) -> AttrSpec:
    def check(value: Any) -> bool:
        return (
            isinstance(value, str)
            and 0 < len(value) <= MAX_URL_LENGTH
            and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)
        )

    return AttrSpec(required=required, check=check,
                    expected=f"a non-empty URL of at most {MAX_URL_LENGTH} characters "
                             "without control characters")


def _choice(*values: str) -> AttrSpec:
    return AttrSpec(check=lambda value: value in values,
                    expected="one of " + ", ".join(repr(value) for value in values))


def _colwidth_check(value: Any) -> bool:
    return (
        isinstance(value, list)
        and 0 < len(value) <= 1000
        and all(is_int(width) and 0 <= width <= 100_000 for width in value)
    )


_DIMENSION = AttrSpec(
    check=lambda value: (not isinstance(value, bool) and isinstance(value, int | float)
                         and 0 <= value <= 100_000),
    expected="a number from 0 to 100000",
)

_CELL_ATTRS = {
    "colspan": AttrSpec(default=1, check=lambda v: is_int(v) and 1 <= v <= 1000,
                        expected="an integer from 1 to 1000"),
    "rowspan": AttrSpec(default=1, check=lambda v: is_int(v) and 1 <= v <= 1000,
                        expected="an integer from 1 to 1000"),
    "colwidth": AttrSpec(check=_colwidth_check, expected="a list of column widths in pixels"),
    "align": _choice("left", "center", "right"),
}


@dataclass(frozen=True)
class NodeSpec:
    """A node type. ``children`` names the node types or groups (``block``, ``inline``)
    allowed inside; a node without ``children`` is a leaf. ``first`` is a type the first child
    must have; ``min_children`` is 1 for content expressions ending in ``+``."""

    name: str
    group: str | None
    children: tuple[str, ...] = ()
    min_children: int = 0
    first: str | None = None
    attrs: dict[str, AttrSpec] = field(default_factory=dict)
    marks: bool = True

    def allows(self, child: NodeSpec, index: int) -> bool:
        if index == 0 and self.first is not None:
            return child.name == self.first
        return child.name in self.children or (
            child.group is not None and child.group in self.children)


NODES: dict[str, NodeSpec] = {spec.name: spec for spec in (
    NodeSpec("doc", None, ("block",)),
    NodeSpec("paragraph", "block", ("inline",)),
    NodeSpec("heading", "block", ("inline",),
             attrs={"level": AttrSpec(default=1, check=lambda v: is_int(v) and 1 <= v <= 6,
                                      expected="an integer from 1 to 6")}),
    NodeSpec("blockquote", "block", ("block",), min_children=1),
    NodeSpec("codeBlock", "block", ("text",), attrs={"language": _string(100)}, marks=False),
    NodeSpec("horizontalRule", "block"),
    NodeSpec("bulletList", "block", ("listItem",), min_children=1),
    NodeSpec("orderedList", "block", ("listItem",), min_children=1,
             attrs={"start": AttrSpec(default=1, check=lambda v: is_int(v) and 0 <= v <= 10**9,
                                      expected="an integer from 0 to 1000000000"),
                    "type": _choice("1", "a", "A", "i", "I")}),
    NodeSpec("listItem", None, ("block",), min_children=1, first="paragraph"),
    NodeSpec("taskList", "block", ("taskItem",), min_children=1),
    NodeSpec("taskItem", None, ("block",), min_children=1, first="paragraph",
             attrs={"checked": AttrSpec(default=False, check=lambda v: isinstance(v, bool),
                                        expected="a boolean")}),
    NodeSpec("image", "block",
             attrs={"src": _url(required=True), "alt": _string(), "title": _string(),
                    "width": _DIMENSION, "height": _DIMENSION}),
    NodeSpec("table", "block", ("tableRow",), min_children=1),
    NodeSpec("tableRow", None, ("tableCell", "tableHeader"), min_children=1),
    NodeSpec("tableCell", None, ("block",), min_children=1, attrs=_CELL_ATTRS),
    NodeSpec("tableHeader", None, ("block",), min_children=1, attrs=_CELL_ATTRS),
    NodeSpec("hardBreak", "inline"),
    NodeSpec("text", "inline"),
)}


@dataclass(frozen=True)
class MarkSpec:
    name: str
    attrs: dict[str, AttrSpec] = field(default_factory=dict)
    # Tiptap's code mark has ``excludes: "_"``: it cannot be combined with any other mark.
    exclusive: bool = False


# In ProseMirror's rank order (the order of a mark set, hence of ``marks`` in the JSON).
MARKS: dict[str, MarkSpec] = {spec.name: spec for spec in (
    MarkSpec("link", {
        "href": _url(required=True),
        "target": _string(100, default="_blank"),
        "rel": _string(200, default="noopener noreferrer nofollow"),
        "class": _string(200),
        "title": _string(),
    }),
    MarkSpec("bold"),
    MarkSpec("code", exclusive=True),
    MarkSpec("italic"),
    MarkSpec("strike"),
    MarkSpec("underline"),
)}
MARK_RANK = {name: rank for rank, name in enumerate(MARKS)}


def mark_sort_key(mark: dict[str, Any]) -> tuple[int, str]:
    return MARK_RANK.get(mark["type"], len(MARK_RANK)), mark["type"]
