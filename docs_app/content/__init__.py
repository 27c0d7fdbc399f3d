"""Document content: the ProseMirror JSON of a collaborative document and its conversions.

A document's content lives in its Yjs state as a y-prosemirror ``XmlFragment`` (``default``,
as Tiptap names it). This package reads it (:func:`read_content`, also from BlockNote's
``document-store``), writes it (:func:`write_json`, :func:`replace_content`), validates
client-supplied JSON (:func:`validate_json`) and converts it to and from Markdown, to HTML and
to plain text (:func:`render`).
"""

from __future__ import annotations

from pycrdt import Doc, XmlFragment

from .blocknote import blocknote_to_json
from .errors import ContentError
from .html import is_safe_url, json_to_html
from .markdown import json_to_markdown, markdown_to_json
from .prosemirror import fragment_to_json, replace_content, validate_json, write_json
from .text import json_to_text, make_excerpt

__all__ = [
    "FORMATS",
    "BLOCKNOTE_FRAGMENT",
    "ContentError",
    "blocknote_to_json",
    "fragment_to_json",
    "is_safe_url",
    "json_to_html",
    "json_to_markdown",
    "json_to_text",
    "make_excerpt",
    "markdown_to_json",
    "read_content",
    "render",
    "replace_content",
    "validate_json",
    "write_json",
]

FORMATS = ("json", "markdown", "html", "text")
BLOCKNOTE_FRAGMENT = "document-store"


def read_content(ydoc: Doc, fragment_name: str = "default") -> dict:
    """The ProseMirror JSON of ``ydoc``: the ``fragment_name`` fragment if it has content,
    otherwise BlockNote's ``document-store`` if that has content, otherwise an empty document.
    A root that does not exist yet is not created."""
    with ydoc.transaction():
        names = set(ydoc.keys())
        for name, reader in ((fragment_name, fragment_to_json),
                             (BLOCKNOTE_FRAGMENT, blocknote_to_json)):
            if name not in names:
                continue
            fragment = ydoc.get(name, type=XmlFragment)
            if len(fragment.children):
                return reader(fragment)
    return {"type": "doc", "content": []}


def render(doc: dict, fmt: str) -> str | dict:
    """``doc`` in one of :data:`FORMATS`: ``json`` gives the validated, normalised document,
    the others a string. Raises ``ValueError`` for an unknown format and ``ContentError`` for
    an invalid document."""
    if fmt == "json":
        return validate_json(doc)
    if fmt == "markdown":
        return json_to_markdown(doc)
    if fmt == "html":
        return json_to_html(doc)
    if fmt == "text":
        return json_to_text(doc)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
