"""Markdown <-> ProseMirror JSON of our schema.

Parsing uses markdown-it-py (CommonMark, plus its built-in GFM tables, ``~~strikethrough~~``
and task-list items). Markdown has no underline: it is written ``<u>...</u>`` and read back
from inline HTML, together with ``<strong>``/``<b>``, ``<em>``/``<i>``, ``<s>``/``<del>``,
``<ins>`` and ``<br>``; any other HTML is kept as literal text (nothing is rendered from it).
Images are blocks in our schema: an image inside a paragraph splits it. Link and image URLs are
kept as written (no percent-encoding) so they survive a round trip; links markdown-it refuses
(``javascript:``, ``vbscript:``, ``file:``, most ``data:``) stay text.

The serialiser (:mod:`.markdown_serializer`) writes Markdown that this parser reads back to the
same document, so Markdown -> document -> Markdown is stable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from django.conf import settings
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.tree import SyntaxTreeNode

from .errors import ContentError
from .prosemirror import validate_json
from .schema import MARKS, MAX_DEPTH, MAX_STRING_ATTR_LENGTH, NODES

__all__ = ["json_to_markdown", "markdown_to_json", "markdown_parser"]

_HTML_MARKS = {
    "strong": "bold", "b": "bold", "em": "italic", "i": "italic", "u": "underline",
    "ins": "underline", "s": "strike", "del": "strike", "strike": "strike",
}
_HTML_TAG = re.compile(r"^<(/?)([a-zA-Z][a-zA-Z0-9]*)\s*(/?)>$")
_TOKEN_MARKS = {"strong": "bold", "em": "italic", "s": "strike"}
_ALIGN = re.compile(r"text-align:\s*(left|center|right)")


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """The configured parser (shared: a MarkdownIt instance is safe to reuse)."""
    parser = MarkdownIt("commonmark", {"tasklists": True}).enable(["table", "strikethrough"])
    # markdown-it's token nesting is our node depth minus about two; past it markdown-it drops
    # the content, so let it go as deep as the schema allows (the preset says 20).
    parser.options["maxNesting"] = MAX_DEPTH - 4
    # Keep destinations as written: percent-encoding them would change them on every trip.
    parser.normalizeLink = _as_written  # type: ignore[method-assign,assignment]
    parser.normalizeLinkText = _as_written  # type: ignore[method-assign,assignment]
    return parser


def _as_written(url: str) -> str:
    return url


def markdown_to_json(text: str) -> dict:
    """The document (validated, normalised ProseMirror JSON) that ``text`` describes.
    Raises :class:`ContentError` for input too large or too deeply nested for the schema."""
    if not isinstance(text, str):
        raise ContentError("Markdown must be a string", "")
    # As long as the content API takes (a character is at least one byte of the body).
    limit = settings.DOCS_CONTENT_MAX_BODY_BYTES
    if len(text) > limit:
        raise ContentError(f"Markdown longer than {limit} characters", "")
    tree = SyntaxTreeNode(markdown_parser().parse(text))
    return validate_json({"type": "doc", "content": _blocks(tree.children)})


def json_to_markdown(doc: dict) -> str:
    from .markdown_serializer import json_to_markdown as serialise

    return serialise(doc)


# --- blocks -------------------------------------------------------------------------------


def _blocks(nodes: list[SyntaxTreeNode]) -> list[dict]:
    blocks: list[dict] = []
    for node in nodes:
        blocks.extend(_block(node))
    return blocks


def _block(node: SyntaxTreeNode) -> list[dict]:
    kind = node.type
    if kind == "paragraph":
        return _split_images("paragraph", {}, _inline_of(node))
    if kind == "heading":
        return _split_images("heading", {"level": int(node.tag[1])}, _inline_of(node))
    if kind == "blockquote":
        return [{"type": "blockquote", "content": _blocks(node.children) or [_paragraph([])]}]
    if kind in ("bullet_list", "ordered_list"):
        return _lists(node)
    if kind in ("fence", "code_block"):
        code = node.content[:-1] if node.content.endswith("\n") else node.content
        language = unescapeAll(node.info).strip() if kind == "fence" else ""
        return [{"type": "codeBlock", "attrs": {"language": language[:100] or None},
                 "content": [{"type": "text", "text": code}] if code else []}]
    if kind == "hr":
        return [{"type": "horizontalRule"}]
    if kind == "table":
        return [_table(node)]
    if kind == "html_block":
        inline: list[dict] = []
        for line in node.content.rstrip("\n").split("\n"):
            if inline:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        return [_paragraph(inline)]
    return []


def _paragraph(inline: list[dict]) -> dict:
    return {"type": "paragraph", "content": inline}


def _inline_of(node: SyntaxTreeNode) -> list[Any]:
    inline = node.children[0] if node.children else None
    return _inline(inline.children) if inline is not None else []


def _split_images(node_type: str, attrs: dict, inline: list[Any]) -> list[dict]:
    """Our images are blocks: cut the text block around each image (dropping the spaces and
    line breaks at the cuts, which have nothing left to separate)."""
    blocks: list[dict] = []
    segment: list[dict] = []

    def flush() -> None:
        nonlocal segment
        trimmed = _trim(segment)
        if trimmed:
            blocks.append({"type": node_type, "attrs": attrs, "content": trimmed})
        segment = []

    has_image = False
    for item in inline:
        if item["type"] == "image":
            has_image = True
            flush()
            blocks.append(item)
        else:
            segment.append(item)
    if not has_image:
        return [{"type": node_type, "attrs": attrs, "content": segment}]
    flush()
    return blocks


def _trim(inline: list[dict]) -> list[dict]:
    items = list(inline)
    for index in (0, -1):
        while items:
            item = items[index]
            if item["type"] == "hardBreak":
                items.pop(index)
                continue
            text = item["text"].lstrip() if index == 0 else item["text"].rstrip()
            if text:
                items[index] = {**item, "text": text}
                break
            items.pop(index)
    return items


def _lists(node: SyntaxTreeNode) -> list[dict]:
    """A Markdown list, cut into runs of task items and of plain items (our task lists and
    bullet lists are distinct node types)."""
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1)) if ordered else 1
    lists: list[dict] = []
    current: dict | None = None
    for index, item in enumerate(node.children):
        checked = (item.meta or {}).get("checked")
        is_task = checked is not None
        wanted = "taskList" if is_task else ("orderedList" if ordered else "bulletList")
        if current is None or current["type"] != wanted:
            current = {"type": wanted, "content": []}
            if wanted == "orderedList":
                current["attrs"] = {"start": min(start + index, 999_999_999)}
            lists.append(current)
        content = _blocks(item.children)
        if not content or content[0]["type"] != "paragraph":
            content.insert(0, _paragraph([]))
        list_item: dict[str, Any] = {"type": "taskItem" if is_task else "listItem",
                                     "content": content}
        if is_task:
            list_item["attrs"] = {"checked": bool(checked)}
        current["content"].append(list_item)
    return lists


def _table(node: SyntaxTreeNode) -> dict:
    rows = []
    for section in node.children:  # thead, tbody
        for row in section.children:
            cells = []
            for cell in row.children:
                match = _ALIGN.search(str(cell.attrs.get("style", "")))
                content = _split_images("paragraph", {}, _inline_of(cell))
                cells.append({
                    "type": "tableHeader" if cell.type == "th" else "tableCell",
                    "attrs": {"align": match.group(1) if match else None},
                    "content": content or [_paragraph([])],
                })
            rows.append({"type": "tableRow", "content": cells})
    return {"type": "table", "content": rows}


# --- inline -------------------------------------------------------------------------------


def _inline(children: list[SyntaxTreeNode]) -> list[dict]:
    """Inline nodes (text, hardBreak and image blocks to be cut out) of inline tokens."""
    html_marks: dict[str, int] = {}
    items: list[dict] = []
    _walk_inline(children, {}, html_marks, items)
    return items


def _walk_inline(children: list[SyntaxTreeNode], marks: dict[str, dict],
                 html_marks: dict[str, int], items: list[dict]) -> None:
    for node in children:
        kind = node.type
        if kind == "text":
            _add_text(items, node.content, marks, html_marks)
        elif kind == "softbreak":
            _add_text(items, " ", marks, html_marks)
        elif kind == "hardbreak":
            items.append({"type": "hardBreak"})
        elif kind == "code_inline":
            items.append({"type": "text", "text": node.content, "marks": [{"type": "code"}]}
                         if node.content else {"type": "text", "text": ""})
        elif kind in _TOKEN_MARKS:
            _walk_inline(node.children, {**marks, _TOKEN_MARKS[kind]: {}}, html_marks, items)
        elif kind == "link":
            link: dict[str, Any] = {"href": node.attrs.get("href", "")}
            if node.attrs.get("title"):
                link["title"] = str(node.attrs["title"])[:MAX_STRING_ATTR_LENGTH]
            valid = MARKS["link"].attrs["href"].check(link["href"])
            inner = {**marks, "link": link} if valid else marks
            _walk_inline(node.children, inner, html_marks, items)
        elif kind == "image":
            attrs = {"src": node.attrs.get("src", ""),
                     "alt": _plain(node.children)[:MAX_STRING_ATTR_LENGTH] or None,
                     "title": str(node.attrs.get("title") or "")[:MAX_STRING_ATTR_LENGTH] or None}
            if NODES["image"].attrs["src"].check(attrs["src"]):
                items.append({"type": "image", "attrs": attrs})
        elif kind == "html_inline":
            _html_inline(node.content, items, marks, html_marks)
        else:
            _walk_inline(node.children, marks, html_marks, items)
    items[:] = [item for item in items if item["type"] != "text" or item["text"]]


def _html_inline(html: str, items: list[dict], marks: dict[str, dict],
                 html_marks: dict[str, int]) -> None:
    match = _HTML_TAG.match(html)
    tag = match.group(2).lower() if match else ""
    if match and tag == "br" and not match.group(1):
        items.append({"type": "hardBreak"})
    elif match and tag in _HTML_MARKS and not match.group(3):
        mark = _HTML_MARKS[tag]
        depth = html_marks.get(mark, 0) + (-1 if match.group(1) else 1)
        html_marks[mark] = max(depth, 0)
    else:
        _add_text(items, html, marks, html_marks)


def _add_text(items: list[dict], text: str, marks: dict[str, dict],
              html_marks: dict[str, int]) -> None:
    if not text:
        return
    names = dict(marks)
    for mark, depth in html_marks.items():
        if depth > 0:
            names.setdefault(mark, {})
    node: dict[str, Any] = {"type": "text", "text": text}
    if names:
        node["marks"] = [{"type": name, "attrs": attrs} if attrs else {"type": name}
                         for name, attrs in names.items()]
    items.append(node)


def _plain(children: list[SyntaxTreeNode]) -> str:
    parts = []
    for node in children:
        if node.type in ("text", "code_inline"):
            parts.append(node.content)
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(_plain(node.children))
    return "".join(parts)
