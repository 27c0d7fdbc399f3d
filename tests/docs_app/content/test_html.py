from __future__ import annotations

import pytest

from docs_app.content import ContentError, is_safe_url, json_to_html

from .samples import EVERY_NODE, HARD_BREAK, cell, doc, heading, item, link, paragraph, task, text


def test_every_node_as_semantic_html():
    assert json_to_html(EVERY_NODE) == (
        "<h2>Title <strong><em>bold italic</em></strong></h2>"
        "<p>plain <u>under</u><s>gone</s><code>x = 1</code>"
        '<a href="https://example.org/a?b=1&amp;c=2" title="Example"><strong>site</strong></a>'
        "<br>after the break</p>"
        "<p></p>"
        '<ul><li><p>one</p><ol start="3"><li><p>three</p></li></ol></li><li><p>two</p></li></ul>'
        '<ul class="task-list">'
        '<li class="task-list-item"><input type="checkbox" disabled checked><p>done</p></li>'
        '<li class="task-list-item"><input type="checkbox" disabled><p>to do</p></li></ul>'
        "<blockquote><p>quoted</p></blockquote>"
        '<pre><code class="language-python">print(1)\n</code></pre>'
        "<pre><code></code></pre>"
        "<hr>"
        '<img src="https://example.org/i.png" alt="An image" title="Picture" width="200">'
        "<table><thead><tr><th><p>Name</p></th>"
        '<th style="text-align: right"><p>Value</p></th></tr></thead>'
        '<tbody><tr><td colspan="2"><p>spans both</p></td></tr></tbody></table>'
    )


def test_ordered_list_starting_at_one_has_no_start_attribute():
    content = doc({"type": "orderedList", "content": [item(paragraph(text("a")))]})
    assert json_to_html(content) == "<ol><li><p>a</p></li></ol>"


def test_table_without_header_row_has_only_a_body():
    content = doc({"type": "table", "content": [{"type": "tableRow", "content": [
        cell("tableCell", paragraph(text("a")))]}]})
    assert json_to_html(content) == "<table><tbody><tr><td><p>a</p></td></tr></tbody></table>"


def test_text_is_escaped():
    content = doc(paragraph(text('<script>alert("x")</script> & <b>')),
                  heading(1, text("<img src=x onerror=alert(1)>")))

    html = json_to_html(content)

    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert html == (
        '<p>&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;</p>'
        "<h1>&lt;img src=x onerror=alert(1)&gt;</h1>"
    )


def test_code_is_escaped_and_language_class_sanitised():
    content = doc({"type": "codeBlock", "attrs": {"language": 'x" onmouseover="alert(1)'},
                   "content": [text("</code><script>x</script>")]})

    assert json_to_html(content) == (
        '<pre><code class="language-xonmouseoveralert1">'
        "&lt;/code&gt;&lt;script&gt;x&lt;/script&gt;</code></pre>"
    )


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
])
def test_unsafe_link_is_written_as_plain_text(href):
    html = json_to_html(doc(paragraph(text("click", "bold", link(href)))))

    assert html == "<p><strong>click</strong></p>"


def test_urls_are_judged_the_way_browsers_read_them():
    # browsers drop tabs and newlines inside a URL before reading its scheme
    assert not is_safe_url("java\tscript:alert(1)")
    assert not is_safe_url("\x01javascript:alert(1)")
    # an escaped character reference is not decoded twice: no scheme, a relative URL
    assert is_safe_url("jav&#x09;ascript:alert(1)")


@pytest.mark.parametrize("href", [
    "https://example.org/x", "http://example.org", "mailto:a@example.org", "/docs/1",
    "../up", "#anchor", "?q=1", "//cdn.example.org/x", "page:2/relative/no",
])
def test_safe_links_are_kept(href):
    expected_safe = href != "page:2/relative/no"
    assert is_safe_url(href) is expected_safe
    html = json_to_html(doc(paragraph(text("go", link(href)))))
    assert ("<a href=" in html) is expected_safe


def test_attribute_values_are_quoted_and_escaped():
    html = json_to_html(doc(paragraph(text("x", link('/a?b="c"&d=<e>', title='"><script>')))))

    assert html == ('<p><a href="/a?b=&quot;c&quot;&amp;d=&lt;e&gt;" '
                    'title="&quot;&gt;&lt;script&gt;">x</a></p>')


def test_unsafe_image_is_dropped():
    content = doc({"type": "image", "attrs": {"src": "javascript:alert(1)", "alt": "x"}},
                  paragraph(text("after")))
    assert json_to_html(content) == "<p>after</p>"


def test_hard_break_and_task_item_unchecked():
    content = doc({"type": "taskList", "content": [task(False, paragraph(
        text("a"), HARD_BREAK, text("b")))]})
    assert json_to_html(content) == (
        '<ul class="task-list"><li class="task-list-item">'
        '<input type="checkbox" disabled><p>a<br>b</p></li></ul>'
    )


def test_invalid_document_is_refused():
    with pytest.raises(ContentError):
        json_to_html(doc({"type": "script", "content": [text("alert(1)")]}))
