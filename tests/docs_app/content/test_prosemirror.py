from __future__ import annotations

import copy

import pytest
from pycrdt import Doc, Text, XmlElement, XmlFragment, XmlText

from docs_app.content import ContentError
from docs_app.content.prosemirror import (
    fragment_to_json,
    replace_content,
    validate_json,
    write_json,
)
from docs_app.content.schema import MAX_DEPTH, MAX_NODES

from .samples import EVERY_NODE, HARD_BREAK, cell, doc, heading, item, link, paragraph, task, text


def new_fragment() -> tuple[Doc, XmlFragment]:
    ydoc = Doc()
    ydoc["default"] = fragment = XmlFragment()
    return ydoc, fragment


def round_trip(content: dict) -> dict:
    _, fragment = new_fragment()
    write_json(fragment, content)
    return fragment_to_json(fragment)


# --- write_json / fragment_to_json --------------------------------------------------------

SINGLE_CONSTRUCTS = {
    "paragraph": doc(paragraph(text("hello"))),
    "empty paragraph": doc(paragraph()),
    "heading": doc(heading(4, text("h"))),
    "bulletList": doc({"type": "bulletList", "content": [item(paragraph(text("a")))]}),
    "orderedList": doc({"type": "orderedList", "attrs": {"start": 7},
                        "content": [item(paragraph(text("a")))]}),
    "taskList": doc({"type": "taskList", "content": [task(True, paragraph(text("a"))),
                                                     task(False, paragraph())]}),
    "blockquote": doc({"type": "blockquote", "content": [paragraph(text("q"))]}),
    "codeBlock": doc({"type": "codeBlock", "attrs": {"language": "js"},
                      "content": [text("let a = 1;\nlet b;")]}),
    "horizontalRule": doc({"type": "horizontalRule"}),
    "hardBreak": doc(paragraph(text("a"), HARD_BREAK, HARD_BREAK, text("b"))),
    "image": doc({"type": "image", "attrs": {"src": "/media/x.png", "alt": "x"}}),
    "table": doc({"type": "table", "content": [{"type": "tableRow", "content": [
        cell("tableHeader", paragraph(text("h")), rowspan=2, align="center"),
        cell("tableCell", paragraph(), colwidth=[80])]}]}),
    "bold": doc(paragraph(text("b", "bold"))),
    "italic": doc(paragraph(text("i", "italic"))),
    "underline": doc(paragraph(text("u", "underline"))),
    "strike": doc(paragraph(text("s", "strike"))),
    "code": doc(paragraph(text("c", "code"))),
    "link": doc(paragraph(text("l", link("mailto:a@example.org", target="_self", title="T")))),
    "stacked marks": doc(paragraph(text("x", link("/a"), "bold", "italic", "strike",
                                        "underline"))),
    "every node": EVERY_NODE,
}


@pytest.mark.parametrize("content", SINGLE_CONSTRUCTS.values(), ids=SINGLE_CONSTRUCTS.keys())
def test_write_then_read_returns_the_normalised_document(content):
    assert round_trip(content) == validate_json(content) == content


def test_write_json_produces_y_prosemirror_encoding():
    _, fragment = new_fragment()
    write_json(fragment, doc(heading(3, text("a", "bold"), text("b")), paragraph(
        text("l", link("https://x.org")), HARD_BREAK, text("z"))))

    heading_element, paragraph_element = list(fragment.children)
    assert heading_element.tag == "heading"
    assert dict(heading_element.attributes) == {"level": 3}  # Yjs numbers are floats
    (heading_text,) = list(heading_element.children)
    assert heading_text.diff() == [("a", {"bold": {}}), ("b", None)]
    first, hard_break, last = list(paragraph_element.children)
    assert first.diff() == [("l", {"link": {"href": "https://x.org", **{
        "target": "_blank", "rel": "noopener noreferrer nofollow", "class": None,
        "title": None}}})]
    assert isinstance(hard_break, XmlElement) and hard_break.tag == "hardBreak"
    assert isinstance(last, XmlText) and str(last) == "z"


def test_write_json_fills_attribute_defaults_like_prosemirror():
    _, fragment = new_fragment()
    write_json(fragment, doc({"type": "taskList", "content": [
        {"type": "taskItem", "content": [paragraph()]}]}))

    task_item = list(list(fragment.children)[0].children)[0]
    assert dict(task_item.attributes) == {"checked": False}


def test_write_json_appends_after_existing_content():
    _, fragment = new_fragment()
    write_json(fragment, doc(paragraph(text("first"))))
    write_json(fragment, doc(paragraph(text("second"))))

    assert fragment_to_json(fragment) == doc(paragraph(text("first")), paragraph(text("second")))


def test_write_json_outside_a_transaction_emits_one_update():
    ydoc, fragment = new_fragment()
    updates = []
    ydoc.observe(lambda event: updates.append(event.update))

    write_json(fragment, EVERY_NODE)

    assert len(updates) == 1
    replica = Doc()
    replica.apply_update(updates[0])
    assert fragment_to_json(replica.get("default", type=XmlFragment)) == EVERY_NODE


def test_write_json_joins_the_callers_transaction():
    ydoc, fragment = new_fragment()
    ydoc["title"] = title = Text()
    updates = []
    ydoc.observe(lambda event: updates.append(event.update))

    with ydoc.transaction():
        title += "Title"
        write_json(fragment, doc(paragraph(text("body"))))
        replace_content(fragment, doc(paragraph(text("new body"))))

    assert len(updates) == 1
    assert fragment_to_json(fragment) == doc(paragraph(text("new body")))


def test_replace_content_deletes_previous_children():
    _, fragment = new_fragment()
    write_json(fragment, EVERY_NODE)

    replace_content(fragment, doc(paragraph(text("only"))))

    assert fragment_to_json(fragment) == doc(paragraph(text("only")))


def test_replace_content_with_invalid_document_keeps_the_old_one():
    _, fragment = new_fragment()
    write_json(fragment, doc(paragraph(text("kept"))))

    with pytest.raises(ContentError):
        replace_content(fragment, doc({"type": "iframe"}))

    assert fragment_to_json(fragment) == doc(paragraph(text("kept")))


def test_fragment_to_json_of_empty_fragment_is_empty_doc():
    _, fragment = new_fragment()
    assert fragment_to_json(fragment) == {"type": "doc", "content": []}


def test_fragment_to_json_reads_numbers_back_as_ints_and_keeps_booleans():
    _, fragment = new_fragment()
    element = fragment.children.append(XmlElement("orderedList"))
    element.attributes["start"] = 4.0
    element.attributes["ratio"] = 1.5
    element.attributes["flag"] = True

    (node,) = fragment_to_json(fragment)["content"]

    assert node["attrs"] == {"start": 4, "ratio": 1.5, "flag": True}
    assert type(node["attrs"]["start"]) is int


def test_fragment_to_json_strips_overlapping_mark_hashes_and_joins_adjacent_texts():
    """y-prosemirror suffixes marks that may overlap themselves (``comment--<hash>``), and a
    concurrent insert can leave two Y.XmlText side by side."""
    _, fragment = new_fragment()
    element = fragment.children.append(XmlElement("paragraph"))
    first = element.children.append(XmlText())
    first.insert(0, "a", {"comment--AbCd12+/": {"id": 1.0}})
    second = element.children.append(XmlText())
    second.insert(0, "b", {"comment--AbCd12+/": {"id": 1.0}})

    assert fragment_to_json(fragment) == doc(paragraph(
        {"type": "text", "text": "ab", "marks": [{"type": "comment", "attrs": {"id": 1}}]}))


# --- validate_json ------------------------------------------------------------------------


def test_validate_json_normalises():
    submitted = doc(
        {"type": "heading", "attrs": {"level": 2.0}, "content": [
            text("a", "italic", "bold"), text("b", "bold", "italic")]},
        {"type": "orderedList", "attrs": {"start": None},
         "content": [item(paragraph(text("x")))], "marks": []},
        paragraph(HARD_BREAK | {"marks": [{"type": "bold"}]}),
    )

    assert validate_json(submitted) == doc(
        heading(2, text("ab", "bold", "italic")),
        {"type": "orderedList", "attrs": {"start": 1}, "content": [item(paragraph(text("x")))]},
        paragraph(HARD_BREAK),
    )


def test_validate_json_does_not_modify_its_argument():
    submitted = doc(heading(1, text("a"), text("b")))
    before = copy.deepcopy(submitted)
    validate_json(submitted)
    assert submitted == before


INVALID = [
    ("not an object", ["doc"], "", "JSON object"),
    ("wrong root", {"type": "paragraph"}, "/type", "doc"),
    ("unknown node", doc({"type": "iframe"}), "/content/0/type", "unknown node type"),
    ("unknown nested node", doc({"type": "blockquote", "content": [
        paragraph(), {"type": "video"}]}), "/content/0/content/1/type", "unknown node type"),
    ("unknown mark", doc(paragraph(text("a", "blink"))), "/content/0/content/0/marks/0/type",
     "unknown mark"),
    ("empty text", doc(paragraph(text(""))), "/content/0/content/0/text", "non-empty"),
    ("text not a string", doc(paragraph({"type": "text", "text": 3})),
     "/content/0/content/0/text", "non-empty"),
    ("content not a list", doc({"type": "paragraph", "content": "x"}), "/content/0/content",
     "list"),
    ("block in paragraph", doc(paragraph(paragraph())), "/content/0/content/0", "not allowed"),
    ("inline at top level", doc(text("a")), "/content/0", "not allowed"),
    ("nested doc", doc({"type": "blockquote", "content": [doc()]}), "/content/0/content/0",
     "not allowed"),
    ("list item must start with a paragraph",
     doc({"type": "bulletList", "content": [item({"type": "horizontalRule"})]}),
     "/content/0/content/0/content/0", "must start with a paragraph"),
    ("empty list", doc({"type": "bulletList", "content": []}), "/content/0/content",
     "at least one"),
    ("task item in bullet list", doc({"type": "bulletList", "content": [
        task(True, paragraph())]}), "/content/0/content/0", "not allowed"),
    ("heading level", doc(heading(7)), "/content/0/attrs/level", "1 to 6"),
    ("heading level bool", doc({"type": "heading", "attrs": {"level": True}}),
     "/content/0/attrs/level", "1 to 6"),
    ("checked not bool", doc({"type": "taskList", "content": [task("yes", paragraph())]}),
     "/content/0/content/0/attrs/checked", "boolean"),
    ("unknown attribute", doc({"type": "paragraph", "attrs": {"onclick": "x"}}),
     "/content/0/attrs/onclick", "unknown attribute"),
    ("image without src", doc({"type": "image", "attrs": {"alt": "x"}}),
     "/content/0/attrs/src", "required"),
    ("link href not a string", doc(paragraph(text("a", {"type": "link", "attrs": {
        "href": 5}}))), "/content/0/content/0/marks/0/attrs/href", "URL"),
    ("link href with newline", doc(paragraph(text("a", link("java\nscript:x")))),
     "/content/0/content/0/marks/0/attrs/href", "control"),
    ("code with another mark", doc(paragraph(text("a", "code", "bold"))),
     "/content/0/content/0/marks", "code mark"),
    ("duplicate mark", doc(paragraph(text("a", "bold", "bold"))),
     "/content/0/content/0/marks/1", "twice"),
    ("marks in code block", doc({"type": "codeBlock", "content": [text("a", "bold")]}),
     "/content/0/content/0/marks", "cannot have marks"),
    ("leaf with content", doc({"type": "horizontalRule", "content": [paragraph()]}),
     "/content/0/content", "cannot have content"),
    ("unexpected key", doc({"type": "paragraph", "style": "x"}), "/content/0/style",
     "unexpected key"),
    ("colwidth not a list", doc({"type": "table", "content": [{"type": "tableRow", "content": [
        cell("tableCell", paragraph(), colwidth="100")]}]}),
     "/content/0/content/0/content/0/attrs/colwidth", "column widths"),
]


@pytest.mark.parametrize(("submitted", "path", "message"),
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_validate_json_refuses_invalid_documents_with_their_location(submitted, path, message):
    with pytest.raises(ContentError) as caught:
        validate_json(submitted)

    assert caught.value.path == path
    assert message in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_validate_json_refuses_documents_nested_too_deep():
    node = paragraph()
    for _ in range(MAX_DEPTH):
        node = {"type": "blockquote", "content": [node]}

    with pytest.raises(ContentError, match="nested deeper"):
        validate_json(doc(node))


def test_validate_json_accepts_nesting_up_to_the_limit():
    node = paragraph()
    for _ in range(MAX_DEPTH - 2):
        node = {"type": "blockquote", "content": [node]}

    assert validate_json(doc(node))["content"][0]["type"] == "blockquote"


def test_validate_json_refuses_too_many_nodes():
    with pytest.raises(ContentError, match="more than"):
        validate_json(doc(*[{"type": "horizontalRule"}] * MAX_NODES))


def test_pointer_escapes_slashes_in_keys():
    with pytest.raises(ContentError) as caught:
        validate_json(doc({"type": "paragraph", "attrs": {"a/b~": 1}}))
    assert caught.value.path == "/content/0/attrs/a~1b~0"
