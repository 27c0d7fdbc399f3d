"""Small builders of ProseMirror JSON and one document using every node and mark type."""

from __future__ import annotations

LINK_DEFAULTS = {"target": "_blank", "rel": "noopener noreferrer nofollow", "class": None,
                 "title": None}


def text(value, *marks):
    node = {"type": "text", "text": value}
    if marks:
        node["marks"] = [mark if isinstance(mark, dict) else {"type": mark} for mark in marks]
    return node


def link(href, **attrs):
    return {"type": "link", "attrs": {**LINK_DEFAULTS, "href": href, **attrs}}


def paragraph(*content):
    return {"type": "paragraph", "content": list(content)} if content else {"type": "paragraph"}


def heading(level, *content):
    return {"type": "heading", "attrs": {"level": level}, "content": list(content)}


def doc(*content):
    return {"type": "doc", "content": list(content)}


def item(*content):
    return {"type": "listItem", "content": list(content)}


def task(checked, *content):
    return {"type": "taskItem", "attrs": {"checked": checked}, "content": list(content)}


def cell(kind, *content, **attrs):
    return {"type": kind, "attrs": {"colspan": 1, "rowspan": 1, **attrs},
            "content": list(content)}


HARD_BREAK = {"type": "hardBreak"}

# Normalised (as validate_json returns it): every attribute default present.
EVERY_NODE = doc(
    heading(2, text("Title "), text("bold italic", "bold", "italic")),
    paragraph(text("plain "), text("under", "underline"), text("gone", "strike"),
              text("x = 1", "code"), text("site", link("https://example.org/a?b=1&c=2",
                                                       title="Example"), "bold"),
              HARD_BREAK, text("after the break")),
    paragraph(),
    {"type": "bulletList", "content": [
        item(paragraph(text("one")),
             {"type": "orderedList", "attrs": {"start": 3},
              "content": [item(paragraph(text("three")))]}),
        item(paragraph(text("two"))),
    ]},
    {"type": "taskList", "content": [task(True, paragraph(text("done"))),
                                     task(False, paragraph(text("to do")))]},
    {"type": "blockquote", "content": [paragraph(text("quoted"))]},
    {"type": "codeBlock", "attrs": {"language": "python"}, "content": [text("print(1)\n")]},
    {"type": "codeBlock"},
    {"type": "horizontalRule"},
    {"type": "image", "attrs": {"src": "https://example.org/i.png", "alt": "An image",
                                "title": "Picture", "width": 200}},
    {"type": "table", "content": [
        {"type": "tableRow", "content": [
            cell("tableHeader", paragraph(text("Name")), colwidth=[120]),
            cell("tableHeader", paragraph(text("Value")), align="right")]},
        {"type": "tableRow", "content": [
            cell("tableCell", paragraph(text("spans both")), colspan=2, colwidth=[100, 50])]},
    ]},
)
