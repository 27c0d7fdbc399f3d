"""ProseMirror JSON of our schema -> Markdown that :func:`.markdown.markdown_to_json` reads
back to the same document.

What cannot be said in Markdown is written the way the parser reads it back: underline as
``<u>``, line breaks inside headings and table cells as ``<br>``, spaces at the edges of a line
as character references (``&#32;``), bold/italic/strike as ``<strong>``/``<em>``/``<s>`` when
the ``*``/``~~`` delimiters would not be recognised next to the surrounding characters (each
text block is re-parsed to check). Lossy by nature: image sizes, table cell spans, link
targets, empty paragraphs (outside list items and table cells) and trailing line breaks of a
paragraph; an unsafe link is written as its text, an unsafe image not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it.tree import SyntaxTreeNode

from .markdown import _inline as parse_inline
from .markdown import markdown_parser
from .prosemirror import validate_json

_ALWAYS_ESCAPED = frozenset("\\`*[]<~|")
_LINE_START_ESCAPED = frozenset("#>-+=:")  # ":" may start a GFM delimiter row
_ORDERED_MARKER = re.compile(r"\d{1,9}[.)]")
_ENTITY = re.compile(r"&(?:#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});")
_BULLETS = ("-", "*")
_ORDERED_DELIMITERS = (".", ")")
_ALIGN_ROW = {"left": ":--", "center": ":-:", "right": "--:"}
_DELIMITERS = {
    # mark: (Markdown opener, closer, HTML opener, closer)
    "bold": ("**", "**", "<strong>", "</strong>"),
    "italic": ("*", "*", "<em>", "</em>"),
    "strike": ("~~", "~~", "<s>", "</s>"),
    "underline": ("<u>", "</u>", "<u>", "</u>"),
}
_EXPELLED = frozenset({"bold", "italic", "strike"})


def json_to_markdown(doc: dict) -> str:
    """Markdown for ``doc`` (validated first: raises ``ContentError`` if invalid)."""
    text = _blocks(validate_json(doc)["content"])
    return text + "\n" if text else ""


# --- blocks -------------------------------------------------------------------------------


def _blocks(nodes: list[dict]) -> str:
    parts: list[str] = []
    previous: tuple[str, str] | None = None  # (list family, marker style) of the last block
    for node in nodes:
        family = {"bulletList": "bullet", "taskList": "bullet",
                  "orderedList": "ordered"}.get(node["type"])
        style_index = 0
        if family is not None and previous is not None and previous[0] == family:
            # Two lists of one family side by side merge unless their markers differ.
            styles = _BULLETS if family == "bullet" else _ORDERED_DELIMITERS
            style_index = 1 - styles.index(previous[1])
        rendered = _block(node, style_index)
        if rendered is None:
            continue
        parts.append(rendered)
        previous = None
        if family is not None:
            previous = (family, (_BULLETS if family == "bullet"
                                 else _ORDERED_DELIMITERS)[style_index])
    return "\n\n".join(parts)


def _block(node: dict, style_index: int = 0) -> str | None:
    kind = node["type"]
    content = node.get("content", [])
    if kind == "paragraph":
        while content and content[-1]["type"] == "hardBreak":
            content = content[:-1]
        return _inline_block(content, "paragraph") if content else None
    if kind == "heading":
        level = node["attrs"]["level"]
        text = _inline_block(content, "heading", level=level)
        return "#" * level + (" " + text if text else "")
    if kind == "blockquote":
        inner = _blocks(content)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind == "codeBlock":
        return _code_block(node)
    if kind == "horizontalRule":
        return "---"
    if kind in ("bulletList", "taskList"):
        return _list(content, [_BULLETS[style_index]] * len(content))
    if kind == "orderedList":
        start = node["attrs"]["start"]
        delimiter = _ORDERED_DELIMITERS[style_index]
        # Only the first number counts; later ones must stay valid markers (<= 9 digits).
        return _list(content, [f"{min(start + index, 999_999_999)}{delimiter}"
                               for index in range(len(content))])
    if kind == "image":
        return _image(node["attrs"])
    if kind == "table":
        return _table(content)
    return None


def _code_block(node: dict) -> str:
    code = "".join(child["text"] for child in node.get("content", []))
    code = code.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    language = " ".join((node.get("attrs", {}).get("language") or "").split())
    fence_char = "~" if "`" in language else "`"
    longest = max((len(run) for run in re.findall(re.escape(fence_char) + "+", code)),
                  default=0)
    fence = fence_char * max(3, longest + 1)
    info = _ENTITY.sub(lambda match: "\\" + match.group(0), language.replace("\\", "\\\\"))
    return f"{fence}{info}\n{code}{chr(10) if code else ''}{fence}"


def _list(items: list[dict], markers: list[str]) -> str:
    rendered = [_list_item(item, marker) for item, marker in zip(items, markers, strict=True)]
    simple = all(child["type"] in ("paragraph", "bulletList", "taskList", "orderedList")
                 for item in items for child in item["content"])
    tight = simple and not any("\n\n" in text for text in rendered)
    return ("\n" if tight else "\n\n").join(rendered)


def _list_item(item: dict, marker: str) -> str:
    head = marker + (" [x] " if item.get("attrs", {}).get("checked") else " [ ] "
                     if item["type"] == "taskItem" else " ")
    indent = " " * (len(marker) + 1)
    first, *rest = item["content"]
    first_text = _block(first)
    # Markdown has no empty paragraph: an empty first paragraph is written as nothing, and
    # the parser puts it back when an item starts with something else.
    rest = [child for child in rest if not _writes_nothing(child)]
    if first_text is None and rest and rest[0]["type"] == "paragraph":
        first_text = _block(rest.pop(0))
    body = first_text or ""
    previous = first if first_text is not None else None
    for index, child in enumerate(rest):
        text = _sibling_block(child, rest, index)
        separator = "\n" if previous is not None and _interrupts_paragraph(previous, child,
                                                                             text) else "\n\n"
        body = body + separator + text if body else text
        previous = child
    lines = body.split("\n")
    if first_text is None:
        # An item may start with one empty line; its content then follows, indented.
        head_line = head if head.strip() != marker else marker
        return "\n".join([head_line] + [indent + line if line else "" for line in lines
                                        if body])
    return "\n".join([head + lines[0]] + [indent + line if line else "" for line in lines[1:]])


def _writes_nothing(node: dict) -> bool:
    """Whether :func:`_block` returns ``None`` for ``node`` (without rendering it)."""
    if node["type"] == "paragraph":
        return all(child["type"] == "hardBreak" for child in node.get("content", []))
    if node["type"] == "image":
        return not markdown_parser().validateLink(node["attrs"]["src"])
    return False


def _sibling_block(child: dict, siblings: list[dict], index: int) -> str:
    """A block inside a list item; lists side by side there need alternating markers too."""
    family = {"bulletList": "bullet", "taskList": "bullet", "orderedList": "ordered"}
    style = 0
    position = index
    while position > 0 and family.get(siblings[position - 1]["type"]) == family.get(
            child["type"]) and family.get(child["type"]) is not None:
        style = 1 - style
        position -= 1
    return _block(child, style) or ""


def _interrupts_paragraph(previous: dict, child: dict, text: str) -> bool:
    """Whether ``child`` may directly follow the paragraph ``previous`` on the next line
    (CommonMark lets a list interrupt a paragraph unless its first item is empty or, for an
    ordered list, does not start at 1)."""
    if previous.get("type") != "paragraph" or child["type"] not in (
            "bulletList", "taskList", "orderedList"):
        return False
    if child["type"] == "orderedList" and child["attrs"]["start"] != 1:
        return False
    first_line = text.split("\n", 1)[0]
    return first_line.rstrip() not in ("-", "*", "1.", "1)")


def _image(attrs: dict) -> str | None:
    src = attrs["src"]
    if not markdown_parser().validateLink(src):
        return None
    alt = _escape_text(_clean_text(attrs.get("alt") or ""), context="alt", at_line_start=False,
                       leading=False, trailing=False)
    return f"![{alt}]({_destination(src, attrs.get('title'))})"


def _table(rows: list[dict]) -> str:
    width = max(len(row["content"]) for row in rows)
    aligns = [cell.get("attrs", {}).get("align") for cell in rows[0]["content"]]
    aligns += [None] * (width - len(aligns))
    lines = []
    for index, row in enumerate(rows):
        cells = [_inline_block(_cell_inline(cell["content"]), "cell") for cell in row["content"]]
        cells += [""] * (width - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("| " + " | ".join(_ALIGN_ROW.get(align or "", "---")
                                           for align in aligns) + " |")
    return "\n".join(lines)


def _cell_inline(blocks: list[dict]) -> list[dict]:
    """GFM cells hold one line of inline content: blocks are joined with line breaks."""
    inline: list[dict] = []
    for block in blocks:
        if block["type"] in ("paragraph", "heading"):
            part = list(block.get("content", []))
        elif block["type"] == "codeBlock":
            part = []
            code = "".join(child["text"] for child in block.get("content", []))
            for number, line in enumerate(code.split("\n")):
                if number:
                    part.append({"type": "hardBreak"})
                if line:
                    part.append({"type": "text", "text": line, "marks": [{"type": "code"}]})
        elif block["type"] == "image":
            part = [block]
        else:
            part = _cell_inline(block.get("content", []))
        if part:
            if inline:
                inline.append({"type": "hardBreak"})
            inline.extend(part)
    return inline


# --- inline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A prepared inline piece: ``text`` (with ``marks``, hashable keys such as ``("bold",)``
    or ``("link", href, title)``), ``break`` or ``image`` (``attrs``)."""

    kind: str
    text: str = ""
    marks: frozenset = frozenset()
    attrs: Any = None


def _clean_text(text: str) -> str:
    # Line endings would end the block (markdown-it reads \r as \n), NUL becomes U+FFFD.
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace(
        "\x00", "\ufffd")


def _mark_key(mark: dict) -> tuple:
    if mark["type"] == "link":
        return ("link", mark["attrs"]["href"], _clean_text(mark["attrs"].get("title") or "")
                or None)
    return (mark["type"],)


def _prepare(nodes: list[dict]) -> list[_Item]:
    validate_link = markdown_parser().validateLink
    items: list[_Item] = []
    for node in nodes:
        if node["type"] == "hardBreak":
            items.append(_Item("break"))
        elif node["type"] == "image":
            if validate_link(node["attrs"]["src"]):
                items.append(_Item("image", attrs=node["attrs"]))
        else:
            marks = frozenset(_mark_key(mark) for mark in node.get("marks", [])
                              if mark["type"] != "link" or validate_link(mark["attrs"]["href"]))
            items.append(_Item("text", _clean_text(node["text"]), marks))
    while True:  # each pass only removes marks from whitespace, so this ends
        expelled = _merge(_expel_whitespace(items))
        if expelled == items:
            return items
        items = expelled


def _expel_whitespace(items: list[_Item]) -> list[_Item]:
    """Move spaces at the edges of a bold/italic/strike run outside it: ``** a**`` is not
    emphasis in Markdown."""
    result: list[_Item] = []
    for index, item in enumerate(items):
        expellable = {mark for mark in item.marks if mark[0] in _EXPELLED}
        if item.kind != "text" or not expellable:
            result.append(item)
            continue
        before = items[index - 1].marks if index > 0 else frozenset()
        after = items[index + 1].marks if index + 1 < len(items) else frozenset()
        lead_marks = item.marks - (expellable - before)
        trail_marks = item.marks - (expellable - after)
        stripped = item.text.strip()
        if not stripped:
            result.append(_Item("text", item.text, lead_marks & trail_marks))
            continue
        start = item.text.index(stripped[0])
        end = start + len(stripped)
        if start:
            result.append(_Item("text", item.text[:start], lead_marks))
        result.append(_Item("text", stripped, item.marks))
        if end < len(item.text):
            result.append(_Item("text", item.text[end:], trail_marks))
    return result


def _merge(items: list[_Item]) -> list[_Item]:
    merged: list[_Item] = []
    for item in items:
        if (merged and item.kind == "text" and merged[-1].kind == "text"
                and merged[-1].marks == item.marks):
            merged[-1] = _Item("text", merged[-1].text + item.text, item.marks)
        elif item.kind != "text" or item.text:
            merged.append(item)
    return merged


def _inline_block(nodes: list[dict], context: str, level: int = 1) -> str:
    items = _prepare(nodes)
    rendered = _render(items, context, html=False)
    if _reads_back(rendered, items, context, level):
        return rendered
    return _render(items, context, html=True)


def _render(items: list[_Item], context: str, *, html: bool) -> str:
    out: list[str] = []
    stack: list[tuple] = []
    line_start = True

    def close(mark: tuple) -> None:
        if mark[0] == "link":
            out.append("](" + _destination(mark[1], mark[2]) + ")")
        else:
            out.append(_DELIMITERS[mark[0]][3 if html else 1])

    for index, item in enumerate(items):
        keep = 0
        while keep < len(stack) and stack[keep] in item.marks:
            keep += 1
        for mark in reversed(stack[keep:]):
            close(mark)
        del stack[keep:]
        opening = [mark for mark in item.marks if mark not in stack and mark[0] != "code"]
        opening.sort(key=lambda mark: (-_run_length(items, index, mark), mark[0] != "link",
                                       mark))
        for mark in opening:
            out.append("[" if mark[0] == "link" else _DELIMITERS[mark[0]][2 if html else 0])
            stack.append(mark)
            line_start = False
        if item.kind == "break":
            out.append("<br>" if context != "paragraph" else "\\\n")
            line_start = context == "paragraph"
        elif item.kind == "image":
            out.append(_image(item.attrs) or "")
            line_start = False
        elif ("code",) in item.marks:
            out.append(_code_span(item.text))
            line_start = False
        else:
            first_on_line = index == 0 or items[index - 1].kind == "break"
            last_on_line = index + 1 == len(items) or items[index + 1].kind == "break"
            escaped = _escape_text(item.text, context=context, at_line_start=line_start,
                                   leading=first_on_line, trailing=last_on_line)
            following = items[index + 1] if index + 1 < len(items) else None
            if escaped.endswith("!") and following is not None and any(
                    mark[0] == "link" and mark not in item.marks for mark in following.marks):
                escaped = escaped[:-1] + "\\!"  # "![" would start an image
            out.append(escaped)
            line_start = False
    for mark in reversed(stack):
        close(mark)
    if context == "cell":
        # The GFM table splitter cuts rows at every "|" not preceded by a backslash, before
        # any inline parsing, and takes that backslash off: escape every pipe, whatever it
        # belongs to (text, code span, URL).
        return "".join(out).replace("|", "\\|")
    return "".join(out)


def _run_length(items: list[_Item], index: int, mark: tuple) -> int:
    length = 0
    while index + length < len(items) and mark in items[index + length].marks:
        length += 1
    return length


def _reads_back(rendered: str, items: list[_Item], context: str, level: int) -> bool:
    """Whether the parser reads ``rendered`` back to ``items`` (emphasis delimiters depend on
    their neighbours in ways simpler to check than to predict)."""
    if context == "paragraph":
        source = rendered
    elif context == "heading":
        source = "#" * level + " " + rendered
    else:
        source = "| " + rendered + " |\n| --- |"
    tree = SyntaxTreeNode(markdown_parser().parse(source))
    inlines = [node for node in tree.walk() if node.type == "inline"]
    blocks = [node for node in tree.children]
    if len(inlines) != 1 or len(blocks) != 1:
        return not items and not inlines
    parsed = parse_inline(inlines[0].children)
    return _canonical(parsed) == _canonical_items(items)


def _canonical(nodes: list[dict]) -> list[tuple]:
    items = []
    for node in nodes:
        if node["type"] == "hardBreak":
            items.append(_Item("break"))
        elif node["type"] == "image":
            items.append(_Item("image", attrs=node["attrs"]))
        else:
            marks = frozenset(_mark_key(mark) if mark["type"] == "link" or not mark.get("attrs")
                              else (mark["type"],) for mark in node.get("marks", []))
            items.append(_Item("text", node["text"], marks))
    return _canonical_items(items)


def _canonical_items(items: list[_Item]) -> list[tuple]:
    result: list[tuple] = []
    for item in _merge(items):
        if item.kind == "image":
            result.append(("image", *(item.attrs.get(key) or None
                                      for key in ("src", "alt", "title"))))
        else:
            result.append((item.kind, item.text, item.marks))
    return result


def _escape_text(text: str, *, context: str, at_line_start: bool, leading: bool,
                 trailing: bool) -> str:
    out = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char == "|" and context == "cell":
            out.append(char)  # escaped with the whole cell
        elif char in _ALWAYS_ESCAPED or (char == "#" and context == "heading"):
            out.append("\\" + char)
        elif char == "_":
            inside_word = (0 < index < last and text[index - 1].isalnum()
                           and text[index + 1].isalnum())
            out.append("_" if inside_word else "\\_")
        elif char == "&" and _ENTITY.match(text, index):
            out.append("\\&")
        else:
            out.append(char)
    if at_line_start and context != "heading" and text:
        if text[0] in _LINE_START_ESCAPED and not out[0].startswith("\\"):
            out[0] = "\\" + out[0]
        marker = _ORDERED_MARKER.match(text)
        if marker:
            position = marker.end() - 1
            out[position] = "\\" + out[position]
    # Markdown strips whitespace at the edges of a line (and of a heading or table cell).
    if leading:
        index = 0
        while index < len(text) and text[index].isspace():
            out[index] = f"&#{ord(text[index])};"
            index += 1
    if trailing:
        index = len(text) - 1
        while index >= 0 and text[index].isspace():
            out[index] = f"&#{ord(text[index])};"
            index -= 1
    return "".join(out)


def _code_span(text: str) -> str:
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = text.startswith("`") or text.endswith("`") or (
        text.startswith(" ") and text.endswith(" ") and text.strip(" ") != "")
    return f"{fence} {text} {fence}" if padded else f"{fence}{text}{fence}"


def _destination(url: str, title: str | None) -> str:
    def escape(value: str, specials: str) -> str:
        value = value.replace("\\", "\\\\")
        for char in specials:
            value = value.replace(char, "\\" + char)
        return _ENTITY.sub(lambda match: "\\" + match.group(0), value)

    if url and " " not in url and not url.startswith("<"):
        destination = escape(url, "()<>")
    else:
        destination = "<" + escape(url, "<>") + ">"
    if title:
        destination += ' "' + escape(_clean_text(title), '"') + '"'
    return destination
