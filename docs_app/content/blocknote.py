"""BlockNote's Yjs content read into the ProseMirror JSON of our schema.

BlockNote (``@blocknote/core``, checked against 0.55) keeps its ProseMirror tree in the
``document-store`` fragment through y-prosemirror, with its own schema
(``packages/core/src/pm-nodes`` and ``blocks/``)::

    blockGroup
      blockContainer(id)                      one block
        paragraph | heading(level) | bulletListItem | numberedListItem(start?)
        | checkListItem(checked) | toggleListItem | quote | codeBlock(language)
        | image(url, caption, name) | file/video/audio(url, name, caption) | divider
        | table > tableRow > tableHeader/tableCell(colspan, rowspan, colwidth) > tableParagraph
        blockGroup?                           the block's children (nested blocks)
      columnList > column > blockContainer    (multi-column package)

Each block content node also carries BlockNote's colour and alignment props, which our schema
has no place for. Consecutive list items of one kind become one list, a numbered item with its
own ``start`` begins a new one; a list item's children nest inside it, other blocks' children
follow them. Text styles ``bold``/``italic``/``underline``/``strike``/``code`` and ``link``
carry over; colours and comment marks are dropped.
"""

from __future__ import annotations

from typing import Any

from pycrdt import XmlElement, XmlFragment, XmlText

from .prosemirror import element_attributes, validate_json
from .schema import MARKS, NODES, normalise_number

_LIST_KINDS = {
    "bulletListItem": ("bulletList", "listItem"),
    "numberedListItem": ("orderedList", "listItem"),
    "checkListItem": ("taskList", "taskItem"),
}
_PLAIN_MARKS = {"bold", "italic", "underline", "strike", "code"}
_FILE_BLOCKS = {"file", "video", "audio"}
# Deeper nesting is flattened (children follow their parent) so the result stays well within
# the schema's depth limit.
_MAX_LIST_NESTING = 20


def blocknote_to_json(fragment: XmlFragment) -> dict:
    """The ProseMirror JSON (our schema, normalised by ``validate_json``) of a BlockNote
    ``document-store`` fragment. Precondition: ``fragment`` belongs to a ``Doc``."""
    with fragment.doc.transaction():
        blocks: list[_Block] = []
        for child in fragment.children:
            if isinstance(child, XmlElement):
                blocks.extend(_blocks_of(child))
        return validate_json({"type": "doc", "content": _convert_blocks(blocks, 0)})


class _Block:
    """One BlockNote block: its content node and its child blocks."""

    def __init__(self, content: XmlElement | None, children: list[_Block]) -> None:
        self.content = content
        self.children = children
        self.type = (content.tag or "") if content is not None else ""
        self.props: dict[str, Any] = (
            {key: normalise_number(value)
             for key, value in element_attributes(content).items()}
            if content is not None else {}
        )


def _blocks_of(element: XmlElement) -> list[_Block]:
    """The blocks held by a ``blockGroup``, ``columnList``, ``column`` or ``blockContainer``."""
    if element.tag == "blockContainer":
        content = None
        children: list[_Block] = []
        for child in element.children:
            if not isinstance(child, XmlElement):
                continue
            if child.tag == "blockGroup":
                children.extend(_blocks_of(child))
            elif content is None:
                content = child
        return [_Block(content, children)] if content is not None or children else []
    blocks: list[_Block] = []
    for child in element.children:
        if isinstance(child, XmlElement):
            blocks.extend(_blocks_of(child))
    return blocks


def _convert_blocks(blocks: list[_Block], nesting: int) -> list[dict]:
    nodes: list[dict] = []
    open_list: dict | None = None
    open_kind = ""
    for block in blocks:
        kind = _LIST_KINDS.get(block.type)
        if kind is None:
            open_list = None
            nodes.extend(_convert_block(block))
            nodes.extend(_convert_blocks(block.children, nesting))
            continue
        list_type, item_type = kind
        start = block.props.get("start")
        restarts = list_type == "orderedList" and isinstance(start, int)
        if open_list is None or open_kind != block.type or restarts:
            open_list = {"type": list_type, "content": []}
            if list_type == "orderedList":
                open_list["attrs"] = {"start": start if isinstance(start, int) else 1}
            open_kind = block.type
            nodes.append(open_list)
        item: dict[str, Any] = {"type": item_type,
                                "content": [_paragraph(_inline(block.content))]}
        if item_type == "taskItem":
            item["attrs"] = {"checked": block.props.get("checked") is True}
        open_list["content"].append(item)
        if nesting < _MAX_LIST_NESTING:
            item["content"].extend(_convert_blocks(block.children, nesting + 1))
        else:
            open_list = None
            nodes.extend(_convert_blocks(block.children, nesting))
    return nodes


def _convert_block(block: _Block) -> list[dict]:
    content, props = block.content, block.props
    if content is None:
        return []
    if block.type == "heading":
        level = props.get("level")
        return [{"type": "heading",
                 "attrs": {"level": level if isinstance(level, int) and 1 <= level <= 6 else 1},
                 "content": _inline(content)}]
    if block.type == "quote":
        return [{"type": "blockquote", "content": [_paragraph(_inline(content))]}]
    if block.type == "codeBlock":
        language = props.get("language")
        code = _plain_text(content)
        return [{"type": "codeBlock",
                 "attrs": {"language": language if isinstance(language, str) and language
                           and len(language) <= 100 else None},
                 "content": [{"type": "text", "text": code}] if code else []}]
    if block.type in ("divider", "pageBreak"):
        return [{"type": "horizontalRule"}]
    if block.type == "table":
        return _table(content)
    if block.type == "image" or block.type in _FILE_BLOCKS:
        return _file(block)
    # paragraph, toggleListItem and blocks of custom schemas: their text as a paragraph.
    inline = _inline(content)
    if block.type != "paragraph" and not inline:
        return []
    return [_paragraph(inline)]


def _file(block: _Block) -> list[dict]:
    url, name, caption = (block.props.get(key) for key in ("url", "name", "caption"))
    if not _valid_url(url):
        return []
    caption_nodes = ([_paragraph([{"type": "text", "text": caption}])]
                     if isinstance(caption, str) and caption.strip() else [])
    if block.type == "image":
        alt = caption or name
        attrs = {"src": url}
        if isinstance(alt, str) and alt and NODES["image"].attrs["alt"].check(alt):
            attrs["alt"] = alt
        return [{"type": "image", "attrs": attrs}, *caption_nodes]
    label = name if isinstance(name, str) and name else url
    link = {"type": "link", "attrs": {"href": url}}
    return [_paragraph([{"type": "text", "text": label, "marks": [link]}]), *caption_nodes]


def _table(table: XmlElement) -> list[dict]:
    rows = []
    for row in table.children:
        if not isinstance(row, XmlElement) or row.tag != "tableRow":
            continue
        cells = []
        for cell in row.children:
            if not isinstance(cell, XmlElement) or cell.tag not in ("tableCell", "tableHeader"):
                continue
            attrs = {key: normalise_number(value)
                     for key, value in element_attributes(cell).items()}
            cell_attrs = {key: attrs[key] for key in ("colspan", "rowspan")
                          if isinstance(attrs.get(key), int) and 1 <= attrs[key] <= 1000}
            colwidth = attrs.get("colwidth")
            if isinstance(colwidth, list) and colwidth and all(
                    isinstance(width, int) and 0 <= width <= 100_000 for width in colwidth):
                cell_attrs["colwidth"] = colwidth
            paragraphs = [_paragraph(_inline(child)) for child in cell.children
                          if isinstance(child, XmlElement)]
            cells.append({"type": cell.tag, "attrs": cell_attrs,
                          "content": paragraphs or [_paragraph([])]})
        if cells:
            rows.append({"type": "tableRow", "content": cells})
    return [{"type": "table", "content": rows}] if rows else []


def _paragraph(inline: list[dict]) -> dict:
    return {"type": "paragraph", "content": inline}


def _inline(element: XmlElement | None) -> list[dict]:
    """Text (with the marks our schema knows) and hard breaks of an inline-content node;
    custom inline nodes (mentions...) keep their text."""
    nodes: list[dict] = []
    if element is None:
        return nodes
    for child in element.children:
        if isinstance(child, XmlText):
            for insert, attributes in child.diff():
                if isinstance(insert, str) and insert:
                    nodes.append(_text(insert, attributes or {}))
        elif isinstance(child, XmlElement):
            if child.tag == "hardBreak":
                nodes.append({"type": "hardBreak"})
            else:
                nodes.extend(_inline(child))
    return nodes


def _text(text: str, attributes: dict[str, Any]) -> dict:
    marks: list[dict[str, Any]] = []
    for key, value in attributes.items():
        if key in _PLAIN_MARKS:
            marks.append({"type": key})
        elif key == "link" and isinstance(value, dict) and _valid_url(value.get("href")):
            marks.append({"type": "link", "attrs": {"href": value["href"]}})
    if any(mark["type"] == "code" for mark in marks):
        marks = [{"type": "code"}]  # Tiptap's code mark excludes every other mark
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    return node


def _plain_text(element: XmlElement) -> str:
    parts: list[str] = []
    for child in element.children:
        if isinstance(child, XmlText):
            parts.extend(insert for insert, _ in child.diff() if isinstance(insert, str))
        elif isinstance(child, XmlElement):
            parts.append("\n" if child.tag == "hardBreak" else _plain_text(child))
    return "".join(parts)


def _valid_url(value: Any) -> bool:
    return MARKS["link"].attrs["href"].check(value)
