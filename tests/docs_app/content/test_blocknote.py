from __future__ import annotations

import base64
from pathlib import Path

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from docs_app.content import blocknote_to_json, validate_json

from .samples import HARD_BREAK, cell, doc, heading, item, link, paragraph, task, text

FIXTURE = Path(__file__).parent / "fixtures" / "blocknote-0.55.b64"


def test_reads_the_state_blocknote_itself_writes():
    """``fixtures/blocknote-0.55.b64`` was written by @blocknote/core 0.55's blocksToYDoc
    (``fixtures/make_blocknote_fixture.mjs`` lists the blocks)."""
    ydoc = Doc()
    ydoc.apply_update(base64.b64decode(FIXTURE.read_text()))

    content = blocknote_to_json(ydoc.get("document-store", type=XmlFragment))

    assert content == validate_json(doc(
        heading(2, text("Title")),
        paragraph(text("Bold", "bold"), text(" and "), text("it", "italic", "underline"),
                  text(" s", "strike"), text("code", "code"), text("red"),
                  text("a link", link("https://example.org")), text("line"), HARD_BREAK,
                  text("break")),
        paragraph(text("child paragraph")),
        {"type": "bulletList", "content": [
            item(paragraph(text("b1")),
                 {"type": "bulletList", "content": [item(paragraph(text("b1.1")))]}),
            item(paragraph(text("b2"))),
        ]},
        {"type": "orderedList", "attrs": {"start": 3},
         "content": [item(paragraph(text("n3"))), item(paragraph(text("n4")))]},
        {"type": "taskList", "content": [task(True, paragraph(text("done"))),
                                         task(False, paragraph(text("todo")))]},
        {"type": "blockquote", "content": [paragraph(text("quoted"))]},
        {"type": "codeBlock", "attrs": {"language": "python"},
         "content": [text("print(1)\nprint(2)")]},
        {"type": "image", "attrs": {"src": "https://example.org/i.png", "alt": "Caption"}},
        paragraph(text("Caption")),
        {"type": "table", "content": [
            {"type": "tableRow", "content": [cell("tableHeader", paragraph(text("h1"))),
                                             cell("tableHeader", paragraph(text("h2")))]},
            {"type": "tableRow", "content": [cell("tableCell", paragraph(text("c1"))),
                                             cell("tableCell", paragraph(text("c2", "bold")))]},
        ]},
        {"type": "horizontalRule"},
        paragraph(text("f.pdf", link("https://example.org/f.pdf"))),
        paragraph(text("toggle")),
        paragraph(text("hidden")),
        paragraph(),
    ))


# --- hand-built BlockNote trees -----------------------------------------------------------


def build(blocks: list[tuple]) -> XmlFragment:
    """``blocks``: ``(content type, props, inline, children)`` tuples, where inline is a list
    of ``(text, attributes)`` and ``"<br>"`` for a hard break."""
    ydoc = Doc()
    ydoc["document-store"] = fragment = XmlFragment()
    group = fragment.children.append(XmlElement("blockGroup"))
    _fill(group, blocks)
    return fragment


def _fill(group: XmlElement, blocks: list[tuple]) -> None:
    for index, (kind, props, inline, children) in enumerate(blocks):
        container = group.children.append(XmlElement("blockContainer", {"id": f"b{index}"}))
        content = container.children.append(XmlElement(kind))
        for key, value in {"backgroundColor": "default", "textColor": "default", **props}.items():
            content.attributes[key] = value
        run: XmlText | None = None
        for piece in inline:
            if piece == "<br>":
                content.children.append(XmlElement("hardBreak"))
                run = None
                continue
            if isinstance(piece, XmlElement):
                content.children.append(piece)
                run = None
                continue
            if run is None:
                run = content.children.append(XmlText())
            run.insert(len(run), piece[0], piece[1])
        if children:
            _fill(container.children.append(XmlElement("blockGroup")), children)


def test_numbered_item_with_its_own_start_begins_a_new_list():
    fragment = build([
        ("numberedListItem", {}, [("a", {})], []),
        ("numberedListItem", {}, [("b", {})], []),
        ("numberedListItem", {"start": 7}, [("g", {})], []),
        ("bulletListItem", {}, [("x", {})], []),
    ])

    assert blocknote_to_json(fragment)["content"] == [
        {"type": "orderedList", "attrs": {"start": 1},
         "content": [item(paragraph(text("a"))), item(paragraph(text("b")))]},
        {"type": "orderedList", "attrs": {"start": 7}, "content": [item(paragraph(text("g")))]},
        {"type": "bulletList", "content": [item(paragraph(text("x")))]},
    ]


def test_children_of_check_items_nest_and_children_of_headings_follow():
    fragment = build([
        ("heading", {"level": 3}, [("h", {})], [("paragraph", {}, [("under h", {})], [])]),
        ("checkListItem", {"checked": True}, [("parent", {})], [
            ("checkListItem", {"checked": False}, [("child", {})], []),
        ]),
    ])

    assert blocknote_to_json(fragment)["content"] == [
        heading(3, text("h")),
        paragraph(text("under h")),
        {"type": "taskList", "content": [task(True, paragraph(text("parent")), {
            "type": "taskList", "content": [task(False, paragraph(text("child")))]})]},
    ]


def test_marks_outside_our_schema_are_dropped_and_code_stands_alone():
    fragment = build([("paragraph", {}, [
        ("c", {"code": {}, "bold": {}}),
        ("coloured", {"textColor": {"stringValue": "red"}, "comment": {"id": "1"}}),
        ("bad link", {"link": {"href": ""}}),
        "<br>",
    ], [])])

    assert blocknote_to_json(fragment)["content"] == [
        paragraph(text("c", "code"), text("colouredbad link"), HARD_BREAK)]


def test_custom_inline_content_keeps_its_text_and_unknown_blocks_their_text():
    mention = XmlElement("mention", {"user": "u1"}, [XmlText("@ana")])
    fragment = build([
        ("paragraph", {}, [("hi ", {}), mention], []),
        ("alert", {"type": "warning"}, [("careful", {})], []),
        ("audio", {"url": ""}, [], []),
    ])

    assert blocknote_to_json(fragment)["content"] == [
        paragraph(text("hi @ana")), paragraph(text("careful"))]


def test_columns_are_read_in_order():
    ydoc = Doc()
    ydoc["document-store"] = fragment = XmlFragment()
    group = fragment.children.append(XmlElement("blockGroup"))
    columns = group.children.append(XmlElement("columnList", {"id": "c"}))
    for name in ("left", "right"):
        column = columns.children.append(XmlElement("column", {"id": name}))
        _fill(column, [("paragraph", {}, [(name, {})], [])])

    assert blocknote_to_json(fragment)["content"] == [paragraph(text("left")),
                                                      paragraph(text("right"))]


def test_very_deep_nesting_is_flattened_within_the_schema_limits():
    nested: list[tuple] = [("bulletListItem", {}, [("leaf", {})], [])]
    for depth in range(40):
        nested = [("bulletListItem", {}, [(f"level {depth}", {})], nested)]
    fragment = build(nested)

    content = blocknote_to_json(fragment)  # validated: within MAX_DEPTH

    words = []

    def collect(node):
        words.extend(child["text"] for child in node.get("content", [])
                     if child["type"] == "text")
        for child in node.get("content", []):
            collect(child)

    collect(content)
    assert words == [f"level {depth}" for depth in reversed(range(40))] + ["leaf"]
