"""ProseMirror JSON of our schema -> semantic HTML safe to embed in a page.

Every text and attribute value is escaped; link and image URLs are kept only for ``http``,
``https``, ``mailto`` and relative URLs (a link with another scheme is written as its text, an
image dropped). No ``style``, ``class`` or event attribute comes from the document except the
whitelisted ``language-*`` class of code blocks and the table cell alignments.
"""

from __future__ import annotations

import re
from html import escape

from .prosemirror import validate_json

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
# Browsers drop ASCII tab/newline anywhere in a URL and C0 controls/space at its ends before
# reading the scheme ("java\tscript:" is javascript:); look at the URL the way they do.
_IGNORED_BY_BROWSERS = re.compile(r"[\x00-\x20\x7f]")
_LANGUAGE_CLASS = re.compile(r"[^A-Za-z0-9_+#.-]")
_MARK_TAGS = {"bold": "strong", "italic": "em", "underline": "u", "strike": "s", "code": "code"}
_SIMPLE_BLOCKS = {"paragraph": "p", "blockquote": "blockquote", "bulletList": "ul",
                  "listItem": "li", "table": "table", "tableRow": "tr"}


def is_safe_url(url: str) -> bool:
    """``http``, ``https``, ``mailto`` or relative (no scheme)."""
    compact = _IGNORED_BY_BROWSERS.sub("", url)
    match = _SCHEME.match(compact)
    return match is None or match.group(1).lower() in _SAFE_SCHEMES


def json_to_html(doc: dict) -> str:
    """HTML for ``doc`` (validated first: raises ``ContentError`` if invalid)."""
    return "".join(_node(node) for node in validate_json(doc)["content"])


def _children(node: dict) -> str:
    return "".join(_node(child) for child in node.get("content", []))


def _node(node: dict) -> str:
    kind = node["type"]
    attrs = node.get("attrs", {})
    if kind == "text":
        return _text(node)
    if kind in _SIMPLE_BLOCKS:
        tag = _SIMPLE_BLOCKS[kind]
        body = _table_body(node) if kind == "table" else _children(node)
        return f"<{tag}>{body}</{tag}>"
    if kind == "heading":
        return f"<h{attrs['level']}>{_children(node)}</h{attrs['level']}>"
    if kind == "orderedList":
        start = f' start="{attrs["start"]}"' if attrs.get("start", 1) != 1 else ""
        return f"<ol{start}>{_children(node)}</ol>"
    if kind == "taskList":
        return f'<ul class="task-list">{_children(node)}</ul>'
    if kind == "taskItem":
        checked = " checked" if attrs.get("checked") else ""
        return (f'<li class="task-list-item"><input type="checkbox" disabled{checked}>'
                f"{_children(node)}</li>")
    if kind == "codeBlock":
        language = _LANGUAGE_CLASS.sub("", attrs.get("language") or "")
        css = f' class="language-{language}"' if language else ""
        code = "".join(child["text"] for child in node.get("content", []))
        return f"<pre><code{css}>{escape(code, quote=False)}</code></pre>"
    if kind == "horizontalRule":
        return "<hr>"
    if kind == "hardBreak":
        return "<br>"
    if kind == "image":
        return _image(attrs)
    if kind in ("tableCell", "tableHeader"):
        return _cell(node)
    return ""


def _image(attrs: dict) -> str:
    if not is_safe_url(attrs["src"]):
        return ""
    html = f'<img src="{escape(attrs["src"])}" alt="{escape(attrs.get("alt") or "")}"'
    if attrs.get("title"):
        html += f' title="{escape(attrs["title"])}"'
    for dimension in ("width", "height"):
        if attrs.get(dimension) is not None:
            html += f' {dimension}="{int(attrs[dimension])}"'
    return html + ">"


def _table_body(table: dict) -> str:
    rows = table["content"]
    if all(cell["type"] == "tableHeader" for cell in rows[0]["content"]):
        head, rows = f"<thead>{_node(rows[0])}</thead>", rows[1:]
    else:
        head = ""
    body = f"<tbody>{''.join(_node(row) for row in rows)}</tbody>" if rows else ""
    return head + body


def _cell(node: dict) -> str:
    attrs = node.get("attrs", {})
    tag = "th" if node["type"] == "tableHeader" else "td"
    html = f"<{tag}"
    for span in ("colspan", "rowspan"):
        if attrs.get(span, 1) != 1:
            html += f' {span}="{attrs[span]}"'
    if attrs.get("align"):  # one of left/center/right (validated)
        html += f' style="text-align: {attrs["align"]}"'
    return f"{html}>{_children(node)}</{tag}>"


def _text(node: dict) -> str:
    html = escape(node["text"], quote=False)
    for mark in reversed(node.get("marks", [])):
        if mark["type"] == "link":
            href = mark["attrs"]["href"]
            if not is_safe_url(href):
                continue
            title = mark["attrs"].get("title")
            title_attr = f' title="{escape(title)}"' if title else ""
            html = f'<a href="{escape(href)}"{title_attr}>{html}</a>'
        elif mark["type"] in _MARK_TAGS:
            tag = _MARK_TAGS[mark["type"]]
            html = f"<{tag}>{html}</{tag}>"
    return html
