"""The Yjs content ``write_json`` produces, as the real Node ``yjs`` reads it: the XML tree
y-prosemirror would have built for the same ProseMirror document (so Tiptap renders it)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pycrdt import Doc, XmlFragment

from docs_app.content import fragment_to_json, validate_json, write_json
from tests.docs_app.content.samples import EVERY_NODE, doc, paragraph, text

INTEROP = Path(__file__).resolve().parents[2] / "interop"


def node_dump(update: bytes, fragment: str = "default") -> dict:
    node = shutil.which("node")
    assert node, "node is required for the interop tests"
    assert (INTEROP / "node_modules" / "yjs").is_dir(), "run `npm install` in tests/interop"
    result = subprocess.run(
        [node, str(INTEROP / "yjs_xml_dump.mjs"), fragment],
        input=base64.b64encode(update).decode(), capture_output=True, text=True, timeout=60,
        cwd=INTEROP, check=True,
    )
    return json.loads(result.stdout)


def expected_xml(nodes: list[dict]) -> list[dict]:
    """y-prosemirror's createTypeFromElementNode/createTypeFromTextNodes, restated: non-null
    attributes on the element, one Y.XmlText per run of text nodes, a mark stored as
    {type: attrs}."""
    result: list[dict] = []
    for node in nodes:
        if node["type"] == "text":
            insert: dict = {"insert": node["text"]}
            if node.get("marks"):
                insert["attributes"] = {mark["type"]: mark.get("attrs", {})
                                        for mark in node["marks"]}
            if result and "text" in result[-1]:
                result[-1]["text"].append(insert)
            else:
                result.append({"text": [insert]})
        else:
            result.append({
                "element": node["type"],
                "attrs": {key: value for key, value in node.get("attrs", {}).items()
                          if value is not None},
                "children": expected_xml(node.get("content", [])),
            })
    return result


@pytest.mark.parametrize("content", [
    EVERY_NODE,
    doc(paragraph(text("Été — 😀 “quotes”", "bold"), text(" tail"))),
], ids=["every node", "non-ascii"])
def test_node_yjs_reads_write_json_output_as_y_prosemirror_xml(content):
    ydoc = Doc()
    ydoc["default"] = fragment = XmlFragment()
    write_json(fragment, content)

    answer = node_dump(ydoc.get_update())

    assert answer["xml"] == expected_xml(validate_json(content)["content"])
    # and what yjs re-encodes reads back to the same document
    replica = Doc()
    replica.apply_update(base64.b64decode(answer["update"]))
    assert fragment_to_json(replica.get("default", type=XmlFragment)) == validate_json(content)


def test_node_yjs_sees_integers_for_integer_attributes():
    ydoc = Doc()
    ydoc["default"] = fragment = XmlFragment()
    write_json(fragment, doc({"type": "heading", "attrs": {"level": 2}, "content": []}))

    (heading,) = node_dump(ydoc.get_update())["xml"]

    assert heading["attrs"] == {"level": 2}
    assert isinstance(heading["attrs"]["level"], int)
