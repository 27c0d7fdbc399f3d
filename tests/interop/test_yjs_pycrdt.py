"""pycrdt (server-side CRDT engine) and the real Node ``yjs`` exchange updates both ways and
converge — the evidence behind docs/decisions/0001-crdt-engine-pycrdt.md."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pycrdt import Doc, Text, XmlFragment

HERE = Path(__file__).parent


def node_roundtrip(update: bytes) -> dict:
    node = shutil.which("node")
    assert node, "node is required for the interop tests"
    result = subprocess.run(
        [node, str(HERE / "yjs_roundtrip.mjs")], input=base64.b64encode(update).decode(),
        capture_output=True, text=True, timeout=60, cwd=HERE, check=True,
    )
    return json.loads(result.stdout)


def test_pycrdt_and_node_yjs_converge_both_ways():
    # given: a pycrdt document with text (including non-ASCII) and concurrent edits
    doc = Doc()
    doc["content"] = text = Text()
    doc["default"] = XmlFragment()
    text += "Compte rendu — été"

    # when: Node applies our state and edits, we apply Node's state
    answer = node_roundtrip(doc.get_update())
    assert answer["text"] == "Compte rendu — été"
    text += " [python]"  # a concurrent edit made before receiving Node's
    doc.apply_update(base64.b64decode(answer["update"]))

    # then: both edits survive, and Node sees exactly our merged state
    merged = str(doc["content"])
    assert merged.startswith("Compte rendu — été")
    assert "[node]" in merged and "[python]" in merged
    fragment = doc.get("default", type=XmlFragment)
    assert "from node" in str(fragment)
    assert node_roundtrip(doc.get_update())["text"] == merged


@pytest.mark.parametrize("edits", [1, 50])
def test_pycrdt_incremental_updates_apply_in_node(edits):
    doc = Doc()
    doc["content"] = text = Text()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for index in range(edits):
        text += f"{index},"
    receiver = Doc()
    for update in updates:
        receiver.apply_update(update)
    assert str(receiver.get("content", type=Text)) == str(doc["content"])
    assert node_roundtrip(receiver.get_update())["text"] == str(doc["content"])
