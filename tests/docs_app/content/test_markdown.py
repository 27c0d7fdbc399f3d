from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from docs_app.content import ContentError, json_to_markdown, markdown_to_json

from .samples import EVERY_NODE, HARD_BREAK, cell, doc, heading, item, link, paragraph, task, text
from .strategies import documents


def bullet(*items):
    return {"type": "bulletList", "content": list(items)}


def ordered(start, *items):
    return {"type": "orderedList", "attrs": {"start": start}, "content": list(items)}


def tasks(*items):
    return {"type": "taskList", "content": list(items)}


def code_block(code, language=None):
    return {"type": "codeBlock", "attrs": {"language": language} if language else {},
            "content": [text(code)] if code else []}


def image(src, alt=None, title=None):
    attrs = {"src": src}
    if alt:
        attrs["alt"] = alt
    if title:
        attrs["title"] = title
    return {"type": "image", "attrs": attrs}


def table(*rows):
    return {"type": "table", "content": [{"type": "tableRow", "content": list(row)}
                                         for row in rows]}


# --- Markdown -> document, per construct ------------------------------------------------

PARSED = {
    "paragraph": ("Hello world", doc(paragraph(text("Hello world")))),
    "soft break is a space": ("one\ntwo", doc(paragraph(text("one two")))),
    "hard break": ("one\\\ntwo  \nthree",
                   doc(paragraph(text("one"), HARD_BREAK, text("two"), HARD_BREAK,
                                 text("three")))),
    "headings": ("# One\n\n###### Six\n\nSetext\n---",
                 doc(heading(1, text("One")), heading(6, text("Six")), heading(2, text("Setext")))),
    "marks": ("**b** *i* _i_ ~~s~~ `c` <u>u</u>",
              doc(paragraph(text("b", "bold"), text(" "), text("i", "italic"), text(" "),
                            text("i", "italic"), text(" "), text("s", "strike"), text(" "),
                            text("c", "code"), text(" "), text("u", "underline")))),
    "html emphasis tags": ("<strong>b</strong><em>i</em><del>s</del><ins>u</ins>",
                           doc(paragraph(text("b", "bold"), text("i", "italic"),
                                         text("s", "strike"), text("u", "underline")))),
    "nested marks": ("***both*** **bold *and italic***",
                     doc(paragraph(text("both", "bold", "italic"), text(" "),
                                   text("bold ", "bold"), text("and italic", "bold", "italic")))),
    "code excludes other marks": ("**`x`**", doc(paragraph(text("x", "code")))),
    "link": ('[site](https://example.org/a_b "Title")',
             doc(paragraph(text("site", link("https://example.org/a_b", title="Title"))))),
    "link keeps the url as written": ("[x](<https://example.org/a b>)",
                                      doc(paragraph(text("x", link("https://example.org/a b"))))),
    "autolink": ("<https://example.org>",
                 doc(paragraph(text("https://example.org", link("https://example.org"))))),
    "unsafe link stays text": ("[x](javascript:alert(1))",
                               doc(paragraph(text("[x](javascript:alert(1))")))),
    "bullet list": ("- a\n- b", doc(bullet(item(paragraph(text("a"))), item(paragraph(text("b")))))),
    "ordered list with start": ("3. a\n4. b", doc(ordered(3, item(paragraph(text("a"))),
                                                          item(paragraph(text("b")))))),
    "nested lists": ("- a\n  1. b\n     - c",
                     doc(bullet(item(paragraph(text("a")), ordered(1, item(
                         paragraph(text("b")), bullet(item(paragraph(text("c")))))))))),
    "task list": ("- [x] done\n- [ ] to do",
                  doc(tasks(task(True, paragraph(text("done"))),
                            task(False, paragraph(text("to do")))))),
    "mixed list splits into task and bullet lists": (
        "- [x] done\n- plain",
        doc(tasks(task(True, paragraph(text("done")))), bullet(item(paragraph(text("plain")))))),
    "empty list item": ("- \n- b", doc(bullet(item(paragraph()), item(paragraph(text("b")))))),
    "blockquote": ("> a\n>\n> b", doc({"type": "blockquote", "content": [
        paragraph(text("a")), paragraph(text("b"))]})),
    "fenced code with language": ("```python\nprint(1)\n\n```",
                                  doc(code_block("print(1)\n", "python"))),
    "indented code": ("    x = 1", doc(code_block("x = 1"))),
    "horizontal rule": ("a\n\n***\n\nb", doc(paragraph(text("a")), {"type": "horizontalRule"},
                                            paragraph(text("b")))),
    "image": ('![An image](https://example.org/i.png "Title")',
              doc(image("https://example.org/i.png", "An image", "Title"))),
    "image cuts its paragraph": ("before ![i](/i.png) after",
                                 doc(paragraph(text("before")), image("/i.png", "i"),
                                     paragraph(text("after")))),
    "table": ("| H | :) |\n| :-- | --: |\n| a | **b** |", doc(table(
        [cell("tableHeader", paragraph(text("H")), align="left"),
         cell("tableHeader", paragraph(text(":)")), align="right")],
        [cell("tableCell", paragraph(text("a")), align="left"),
         cell("tableCell", paragraph(text("b", "bold")), align="right")]))),
    "entities": ("&copy; &#32;x &amp;", doc(paragraph(text("©  x &")))),
    "other html is text": ("<div>a</div>\n\nb <span>c</span>",
                           doc(paragraph(text("<div>a</div>")),
                               paragraph(text("b <span>c</span>")))),
    "empty document": ("", doc()),
}


@pytest.mark.parametrize(("source", "expected"), PARSED.values(), ids=PARSED.keys())
def test_markdown_to_json_reads_each_construct(source, expected):
    normalised = {"type": "doc", "content": expected["content"]}
    from docs_app.content import validate_json

    assert markdown_to_json(source) == validate_json(normalised)


def test_markdown_to_json_refuses_non_strings():
    with pytest.raises(ContentError):
        markdown_to_json(b"# bytes")  # type: ignore[arg-type]


# --- document -> Markdown, per construct --------------------------------------------------

WRITTEN = {
    "paragraphs": (doc(paragraph(text("a")), paragraph(text("b"))), "a\n\nb\n"),
    "headings": (doc(heading(1, text("One")), heading(3, text("Three"))), "# One\n\n### Three\n"),
    "marks": (doc(paragraph(text("b", "bold"), text(" "), text("i", "italic"), text(" "),
                            text("s", "strike"), text(" "), text("u", "underline"), text(" "),
                            text("c", "code"))),
              "**b** *i* ~~s~~ <u>u</u> `c`\n"),
    "nested marks": (doc(paragraph(text("a", "bold"), text("b", "bold", "italic"))),
                     "**a*b***\n"),
    "link": (doc(paragraph(text("go", link("https://example.org/x_(y)", title='say "hi"')))),
             '[go](https://example.org/x_\\(y\\) "say \\"hi\\"")\n'),
    "link with a space": (doc(paragraph(text("go", link("/a b")))), "[go](</a b>)\n"),
    "unsafe link becomes text": (doc(paragraph(text("x", link("javascript:alert(1)")))), "x\n"),
    "hard break": (doc(paragraph(text("a"), HARD_BREAK, text("b"))), "a\\\nb\n"),
    "trailing hard break dropped": (doc(paragraph(text("a"), HARD_BREAK)), "a\n"),
    "hard break in heading": (doc(heading(2, text("a"), HARD_BREAK, text("b"))), "## a<br>b\n"),
    "bullet list": (doc(bullet(item(paragraph(text("a"))), item(paragraph(text("b"))))),
                    "- a\n- b\n"),
    "ordered list": (doc(ordered(9, item(paragraph(text("a"))), item(paragraph(text("b"))))),
                     "9. a\n10. b\n"),
    "nested list": (doc(bullet(item(paragraph(text("a")), ordered(1, item(paragraph(text("b"))))))),
                    "- a\n  1. b\n"),
    "task list": (doc(tasks(task(True, paragraph(text("x"))), task(False, paragraph())))
                  , "- [x] x\n- [ ] \n"),
    "adjacent lists keep apart": (doc(bullet(item(paragraph(text("a")))),
                                      tasks(task(False, paragraph(text("b")))),
                                      ordered(1, item(paragraph(text("c")))),
                                      ordered(1, item(paragraph(text("d"))))),
                                  "- a\n\n* [ ] b\n\n1. c\n\n1) d\n"),
    "loose list": (doc(bullet(item(paragraph(text("a")), paragraph(text("b"))))),
                   "- a\n\n  b\n"),
    "blockquote": (doc({"type": "blockquote", "content": [paragraph(text("a")),
                                                          paragraph(text("b"))]}),
                   "> a\n>\n> b\n"),
    "code block": (doc(code_block("x = 1\n```", "py")), "````py\nx = 1\n```\n````\n"),
    "empty code block": (doc(code_block("")), "```\n```\n"),
    "horizontal rule": (doc({"type": "horizontalRule"}), "---\n"),
    "image": (doc(image("https://example.org/i.png", "An [image]", "T")),
              '![An \\[image\\]](https://example.org/i.png "T")\n'),
    "table": (doc(table([cell("tableHeader", paragraph(text("H")), align="center"),
                         cell("tableHeader", paragraph())],
                        [cell("tableCell", paragraph(text("a|b"))),
                         cell("tableCell", paragraph(text("c"), HARD_BREAK, text("d")))])),
              "| H |  |\n| :-: | --- |\n| a\\|b | c<br>d |\n"),
    "empty document": (doc(), ""),
    "empty paragraphs dropped": (doc(paragraph(), paragraph(text("a")), paragraph()), "a\n"),
}


@pytest.mark.parametrize(("content", "expected"), WRITTEN.values(), ids=WRITTEN.keys())
def test_json_to_markdown_writes_each_construct(content, expected):
    assert json_to_markdown(content) == expected


ESCAPED = [
    "2 * 3 * 4", "snake_case and _under_", "# not a heading", "1. not a list", "7) nor this",
    "- nor this", "+ or this", "> not a quote", "[not](a link)", "![not](an image)",
    "`not code`", "a | b", "<b>not html</b>", "&amp; stays", "~~not struck~~", "\\ backslash",
    "===", "---", "***", "  leading and trailing  ", "\ttab", "x\u00a0", "**", "!",
]


@pytest.mark.parametrize("literal", ESCAPED)
def test_special_characters_round_trip_as_text(literal):
    content = doc(paragraph(text(literal)))

    assert markdown_to_json(json_to_markdown(content)) == content


@pytest.mark.parametrize("literal", ESCAPED)
def test_special_characters_round_trip_in_headings_and_cells(literal):
    content = doc(heading(2, text(literal)), table(
        [cell("tableHeader", paragraph(text(literal)))]))

    assert markdown_to_json(json_to_markdown(content))["content"] == [
        heading(2, text(literal)),
        table([cell("tableHeader", paragraph(text(literal)))]),
    ]


def test_emphasis_next_to_punctuation_falls_back_to_html_tags():
    # "**a.**b" is not bold in CommonMark: the closing ** is not right-flanking.
    content = doc(paragraph(text("a.", "bold"), text("b")))

    markdown = json_to_markdown(content)

    assert markdown == "<strong>a.</strong>b\n"
    assert markdown_to_json(markdown) == content


def test_every_node_survives_markdown_except_what_markdown_cannot_hold():
    back = markdown_to_json(json_to_markdown(EVERY_NODE))

    kinds = [node["type"] for node in back["content"]]
    assert kinds == ["heading", "paragraph", "bulletList", "taskList", "blockquote",
                     "codeBlock", "codeBlock", "horizontalRule", "image", "table"]
    assert back["content"][1] == EVERY_NODE["content"][1]
    assert back["content"][3] == EVERY_NODE["content"][4]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_markdown_round_trip_is_stable(content):
    first = json_to_markdown(content)
    second = json_to_markdown(markdown_to_json(first))
    assert first == second
