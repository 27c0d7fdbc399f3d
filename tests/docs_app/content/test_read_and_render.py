from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pycrdt import Doc, XmlElement, XmlFragment

from docs_app.content import (
    FORMATS,
    ContentError,
    read_content,
    render,
    validate_json,
    write_json,
)
from tests.docs_app.content.samples import EVERY_NODE, doc, heading, paragraph, text

BLOCKNOTE = Path(__file__).parent / "fixtures" / "blocknote-0.55.b64"


def test_read_content_of_a_tiptap_document():
    ydoc = Doc()
    ydoc["default"] = fragment = XmlFragment()
    write_json(fragment, EVERY_NODE)

    replica = Doc()
    replica.apply_update(ydoc.get_update())

    assert read_content(replica) == EVERY_NODE


def test_read_content_of_a_named_fragment():
    ydoc = Doc()
    ydoc["prosemirror"] = fragment = XmlFragment()
    write_json(fragment, doc(paragraph(text("named"))))

    assert read_content(ydoc, "prosemirror") == doc(paragraph(text("named")))


def test_read_content_falls_back_to_blocknote():
    ydoc = Doc()
    ydoc.apply_update(base64.b64decode(BLOCKNOTE.read_text()))
    ydoc["default"] = XmlFragment()  # present but empty

    content = read_content(ydoc)

    assert content["content"][0] == heading(2, text("Title"))


def test_read_content_prefers_the_tiptap_fragment_over_blocknote():
    ydoc = Doc()
    ydoc.apply_update(base64.b64decode(BLOCKNOTE.read_text()))
    ydoc["default"] = fragment = XmlFragment()
    write_json(fragment, doc(paragraph(text("tiptap"))))

    assert read_content(ydoc) == doc(paragraph(text("tiptap")))


def test_read_content_of_an_empty_document_creates_no_root():
    ydoc = Doc()

    assert read_content(ydoc) == {"type": "doc", "content": []}
    assert list(ydoc.keys()) == []


def test_read_content_of_an_empty_blocknote_store_is_empty():
    ydoc = Doc()
    ydoc["document-store"] = fragment = XmlFragment()
    fragment.children.append(XmlElement("blockGroup"))

    assert read_content(ydoc) == {"type": "doc", "content": []}


def test_formats():
    assert FORMATS == ("json", "markdown", "html", "text")


def test_render_in_every_format():
    content = doc(heading(1, text("Hi")), paragraph(text("there", "bold")))

    assert render(content, "json") == validate_json(content)
    assert render(content, "markdown") == "# Hi\n\n**there**\n"
    assert render(content, "html") == "<h1>Hi</h1><p><strong>there</strong></p>"
    assert render(content, "text") == "Hi\nthere"


def test_render_refuses_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        render(doc(), "pdf")


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_refuses_invalid_documents(fmt):
    with pytest.raises(ContentError):
        render(doc({"type": "marquee"}), fmt)
