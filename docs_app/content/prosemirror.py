"""ProseMirror JSON <-> the Yjs XML tree that y-prosemirror (hence Tiptap) keeps in sync.

The encoding is y-prosemirror's (``src/plugins/sync-plugin.js`` of the 1.x line that Tiptap
uses): every ProseMirror node is a ``Y.XmlElement`` named after the node type, holding the
node's non-null attributes; each run of consecutive text nodes is one ``Y.XmlText`` whose
formatting attributes are the marks, a mark being stored as ``{<mark type>: <mark attrs>}``
(``{"bold": {}}``). Marks that may overlap themselves get a ``--<hash>`` suffix, stripped on
read. Yjs numbers come back as floats; integral ones are turned back into ints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pycrdt import XmlElement, XmlFragment, XmlText

from .errors import ContentError
from .schema import (
    MARKS,
    MAX_DEPTH,
    MAX_NODES,
    NODES,
    AttrSpec,
    NodeSpec,
    mark_sort_key,
    normalise_number,
)

# y-prosemirror's ``hashedMarkNameRegex``: ``comment--AbCdEfGh`` is a ``comment`` mark.
_HASHED_MARK_NAME = re.compile(r"(.*)(--[a-zA-Z0-9+/=]{8})$")
_NODE_KEYS = frozenset({"type", "attrs", "content", "marks", "text"})
_MARK_KEYS = frozenset({"type", "attrs"})


# --- reading ------------------------------------------------------------------------------


def fragment_to_json(fragment: XmlFragment) -> dict:
    """The ProseMirror JSON of a y-prosemirror fragment (``{"type": "doc", "content": []}``
    for an empty one). Precondition: ``fragment`` belongs to a ``Doc``."""
    with fragment.doc.transaction():
        return {"type": "doc", "content": _children_to_json(fragment)}


def _children_to_json(parent: XmlFragment | XmlElement) -> list[dict]:
    nodes: list[dict] = []
    for child in parent.children:
        if isinstance(child, XmlText):
            for insert, attributes in child.diff():
                if isinstance(insert, str) and insert:
                    nodes.append(_text_node(insert, attributes))
        elif isinstance(child, XmlElement) and child.tag:
            node: dict[str, Any] = {"type": child.tag}
            attrs = {key: normalise_number(value)
                     for key, value in element_attributes(child).items() if value is not None}
            if attrs:
                node["attrs"] = attrs
            content = _children_to_json(child)
            if content:
                node["content"] = content
            nodes.append(node)
    # Two Y.XmlText side by side (a concurrent insert) read as one run, as in ProseMirror.
    return _merge_text_nodes(nodes)


def element_attributes(element: XmlElement) -> dict[str, Any]:
    """The attributes of ``element`` (pycrdt's view types its iterator loosely)."""
    return dict(element.attributes.__iter__())


def _text_node(text: str, attributes: dict[str, Any] | None) -> dict:
    node: dict[str, Any] = {"type": "text", "text": text}
    marks = []
    for key, value in (attributes or {}).items():
        if value is None:
            continue
        match = _HASHED_MARK_NAME.match(key)
        mark: dict[str, Any] = {"type": match.group(1) if match else key}
        if isinstance(value, dict) and value:
            mark["attrs"] = normalise_number(value)
        marks.append(mark)
    if marks:
        node["marks"] = sorted(marks, key=mark_sort_key)
    return node


def _merge_text_nodes(nodes: list[dict]) -> list[dict]:
    merged: list[dict] = []
    for node in nodes:
        previous = merged[-1] if merged else None
        if (previous is not None and node["type"] == "text" and previous["type"] == "text"
                and previous.get("marks") == node.get("marks")):
            merged[-1] = {**previous, "text": previous["text"] + node["text"]}
        else:
            merged.append(node)
    return merged


# --- validation ---------------------------------------------------------------------------


@dataclass
class _Budget:
    nodes: int = 0


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def validate_json(doc: object) -> dict:
    """Check a client-supplied ProseMirror JSON document against the schema and return it
    normalised: attribute defaults filled in as ProseMirror would, integral floats made ints,
    adjacent text nodes with the same marks joined, marks in rank order, marks on non-text
    nodes dropped (y-prosemirror cannot store them), ``attrs``/``content``/``marks`` omitted
    when empty. Raises :class:`ContentError` with the location of the first problem."""
    if not isinstance(doc, dict):
        raise ContentError("a document must be a JSON object", "")
    if doc.get("type") != "doc":
        raise ContentError('the root node must have the type "doc"', "/type")
    normalised = _check_node(doc, "", 0, _Budget())
    return {"type": "doc", "content": normalised.get("content", [])}


def _check_node(value: object, path: str, depth: int, budget: _Budget) -> dict:
    if depth > MAX_DEPTH:
        raise ContentError(f"the document is nested deeper than {MAX_DEPTH} levels", path)
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise ContentError(f"the document has more than {MAX_NODES} nodes", path)
    if not isinstance(value, dict):
        raise ContentError("a node must be a JSON object", path)
    for key in value:
        if key not in _NODE_KEYS:
            raise ContentError(f"unexpected key {key!r} in a node", _pointer(path, key))
    node_type = value.get("type")
    if not isinstance(node_type, str) or node_type not in NODES:
        raise ContentError(f"unknown node type {node_type!r}", _pointer(path, "type"))
    if node_type == "text":
        return _check_text(value, path)
    if "text" in value:
        raise ContentError(f"a {node_type} node cannot have text", _pointer(path, "text"))
    if "marks" in value and not isinstance(value["marks"], list):
        raise ContentError("marks must be a list", _pointer(path, "marks"))
    spec = NODES[node_type]
    attrs = _check_attrs(spec.attrs, value.get("attrs"), _pointer(path, "attrs"),
                         keep_nulls=False)
    content = value.get("content")
    if content is None:
        content = []
    if not isinstance(content, list):
        raise ContentError("content must be a list of nodes", _pointer(path, "content"))
    if content and not spec.children:
        raise ContentError(f"a {node_type} node cannot have content", _pointer(path, "content"))
    children = [
        _check_child(spec, child, index, _pointer(_pointer(path, "content"), index), depth,
                     budget)
        for index, child in enumerate(content)
    ]
    if len(children) < spec.min_children:
        raise ContentError(f"a {node_type} node needs at least one child",
                           _pointer(path, "content"))
    node: dict[str, Any] = {"type": node_type}
    if attrs:
        node["attrs"] = attrs
    if children:
        node["content"] = _merge_text_nodes(children)
    return node


def _check_child(parent: NodeSpec, value: object, index: int, path: str, depth: int,
                 budget: _Budget) -> dict:
    child = _check_node(value, path, depth + 1, budget)
    child_spec = NODES[child["type"]]
    if not parent.allows(child_spec, index):
        if index == 0 and parent.first is not None:
            message = f"a {parent.name} must start with a {parent.first}, not a {child['type']}"
        else:
            message = f"a {child['type']} node is not allowed inside a {parent.name}"
        raise ContentError(message, path)
    if not parent.marks and child.get("marks"):
        raise ContentError(f"text inside a {parent.name} cannot have marks",
                           _pointer(path, "marks"))
    return child


def _check_text(value: dict, path: str) -> dict:
    text = value.get("text")
    if not isinstance(text, str) or not text:
        raise ContentError("a text node needs a non-empty string text", _pointer(path, "text"))
    for key in ("content", "attrs"):
        if value.get(key):
            raise ContentError(f"a text node cannot have {key}", _pointer(path, key))
    node: dict[str, Any] = {"type": "text", "text": text}
    marks = _check_marks(value.get("marks"), _pointer(path, "marks"))
    if marks:
        node["marks"] = marks
    return node


def _check_marks(value: object, path: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContentError("marks must be a list", path)
    marks: list[dict] = []
    for index, mark in enumerate(value):
        mark_path = _pointer(path, index)
        if not isinstance(mark, dict):
            raise ContentError("a mark must be a JSON object", mark_path)
        for key in mark:
            if key not in _MARK_KEYS:
                raise ContentError(f"unexpected key {key!r} in a mark", _pointer(mark_path, key))
        mark_type = mark.get("type")
        if not isinstance(mark_type, str) or mark_type not in MARKS:
            raise ContentError(f"unknown mark type {mark_type!r}", _pointer(mark_path, "type"))
        if any(existing["type"] == mark_type for existing in marks):
            raise ContentError(f"the mark {mark_type!r} is given twice", mark_path)
        attrs = _check_attrs(MARKS[mark_type].attrs, mark.get("attrs"),
                             _pointer(mark_path, "attrs"), keep_nulls=True)
        normalised: dict[str, Any] = {"type": mark_type}
        if attrs:
            normalised["attrs"] = attrs
        marks.append(normalised)
    if len(marks) > 1 and any(MARKS[mark["type"]].exclusive for mark in marks):
        raise ContentError("the code mark cannot be combined with other marks", path)
    return sorted(marks, key=mark_sort_key)


def _check_attrs(specs: dict[str, AttrSpec], value: object, path: str, *,
                 keep_nulls: bool) -> dict[str, Any]:
    """Known attributes with defaults filled in. ``null`` stands for the default. Mark
    attributes keep their nulls: y-prosemirror stores a mark's attribute object whole."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ContentError("attrs must be a JSON object", path)
    for key, given in value.items():
        if key not in specs and given is not None:
            raise ContentError(f"unknown attribute {key!r}", _pointer(path, key))
    attrs: dict[str, Any] = {}
    for key, spec in specs.items():
        given = value.get(key)
        if given is None:
            given = spec.default
        if given is None:
            if spec.required:
                raise ContentError(f"the attribute {key!r} is required", _pointer(path, key))
            if keep_nulls:
                attrs[key] = None
            continue
        if not spec.check(given):
            raise ContentError(f"the attribute {key!r} must be {spec.expected}",
                               _pointer(path, key))
        attrs[key] = normalise_number(given)
    return attrs


# --- writing ------------------------------------------------------------------------------


def write_json(fragment: XmlFragment, doc: dict) -> None:
    """Append the nodes of ``doc`` to ``fragment`` exactly as y-prosemirror's
    ``createTypeFromElementNode``/``createTypeFromTextNodes`` would. ``doc`` is validated (and
    normalised) first, so it raises :class:`ContentError` for invalid content and then writes
    nothing. Runs in the caller's transaction if there is one, otherwise in its own, so that
    observers see one update. Precondition: ``fragment`` belongs to a ``Doc``."""
    normalised = validate_json(doc)
    with fragment.doc.transaction():
        _write_children(fragment, normalised["content"])


def replace_content(fragment: XmlFragment, doc: dict) -> None:
    """Delete every child of ``fragment`` and write ``doc`` in its place, in one transaction
    (nothing is deleted if ``doc`` is invalid)."""
    normalised = validate_json(doc)
    with fragment.doc.transaction():
        count = len(fragment.children)
        if count:
            del fragment.children[0:count]
        _write_children(fragment, normalised["content"])


def _write_children(parent: XmlFragment | XmlElement, nodes: list[dict]) -> None:
    text_run: list[dict] = []
    for node in nodes:
        if node["type"] == "text":
            text_run.append(node)
            continue
        _write_text_run(parent, text_run)
        text_run = []
        element = parent.children.append(XmlElement(node["type"]))
        for key, value in node.get("attrs", {}).items():
            if value is not None and key != "ychange":
                element.attributes[key] = value
        _write_children(element, node.get("content", []))
    _write_text_run(parent, text_run)


def _write_text_run(parent: XmlFragment | XmlElement, run: list[dict]) -> None:
    if not run:
        return
    text = parent.children.append(XmlText())
    for node in run:
        # An explicit (possibly empty) attribute map, as Y.Text.applyDelta gets from
        # y-prosemirror: the chunk must not inherit the formatting of the one before.
        attributes = {mark["type"]: mark.get("attrs", {}) for mark in node.get("marks", [])}
        text.insert(len(text), node["text"], attributes)
