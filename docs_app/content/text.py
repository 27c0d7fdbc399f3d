"""ProseMirror JSON of our schema -> plain text, for search indexing and previews."""

from __future__ import annotations

import re

from .prosemirror import validate_json

_WHITESPACE = re.compile(r"\s+")
_ELLIPSIS = "…"
_TRAILING_PUNCTUATION = " .,;:!?-–—"
_CONTAINERS = frozenset({"blockquote", "bulletList", "orderedList", "taskList", "listItem",
                         "taskItem", "tableCell", "tableHeader"})


def json_to_text(doc: dict) -> str:
    """The text of ``doc``: one line per paragraph, heading, list item or table row (cells
    separated by tabs), code blocks as they are, image alternative texts; hard breaks become
    newlines. Validates ``doc`` first (raises ``ContentError`` if invalid)."""
    lines: list[str] = []
    for node in validate_json(doc)["content"]:
        _block_lines(node, lines)
    return "\n".join(lines)


def _block_lines(node: dict, lines: list[str]) -> None:
    kind = node["type"]
    if kind in ("paragraph", "heading", "codeBlock"):
        lines.append(_inline_text(node))
    elif kind == "image":
        if node["attrs"].get("alt"):
            lines.append(node["attrs"]["alt"])
    elif kind == "table":
        for row in node["content"]:
            lines.append("\t".join(_cell_text(cell) for cell in row["content"]))
    elif kind in _CONTAINERS:
        for child in node.get("content", []):
            _block_lines(child, lines)


def _cell_text(cell: dict) -> str:
    lines: list[str] = []
    for child in cell.get("content", []):
        _block_lines(child, lines)
    # A cell stays on its row: its own line breaks become spaces.
    return " ".join(" ".join(line.split()) for line in lines if line.strip())


def _inline_text(node: dict) -> str:
    return "".join(child.get("text", "\n" if child["type"] == "hardBreak" else "")
                   for child in node.get("content", []))


def make_excerpt(text: str, length: int = 300) -> str:
    """``text`` with whitespace collapsed, cut to at most ``length`` characters on a word
    boundary, ending with an ellipsis when something was cut (a single word longer than
    ``length`` is cut inside the word)."""
    if length < 1:
        raise ValueError("length must be positive")
    collapsed = _WHITESPACE.sub(" ", text).strip()
    if len(collapsed) <= length:
        return collapsed
    # Keep at most length - 1 characters, the last one being the ellipsis; a space just past
    # them means they end on a whole word.
    window = collapsed[:length]
    boundary = window.rfind(" ")
    kept = window[:boundary] if boundary > 0 else window[:-1]
    kept = kept.rstrip(_TRAILING_PUNCTUATION) or window[:-1]
    return kept + _ELLIPSIS
