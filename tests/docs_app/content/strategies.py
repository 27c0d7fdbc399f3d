"""Hypothesis strategies for documents of our schema (the subset Markdown can express)."""

from __future__ import annotations

from hypothesis import strategies as st

# Markdown's special characters are over-represented on purpose.
SPECIAL = "*_#[]`|<>&!~-+=.:()\\\"' \t\n\r1\u00a0é😀"
text_chars = st.sampled_from(list(SPECIAL) + list("abcxyzAB09"))
texts = st.text(text_chars, min_size=1, max_size=12)
words = st.text(st.sampled_from(list("abcdefghij")), min_size=1, max_size=8)
urls = st.builds(lambda host, path: f"https://{host}.example/{path}", words,
                 st.text(st.sampled_from(list("abc/()_*&#?= ")), max_size=8))
links = st.builds(lambda href, title: {"type": "link", "attrs": {"href": href, "title": title}},
                  urls, st.none() | texts)
simple_marks = st.sets(st.sampled_from(["bold", "italic", "underline", "strike"]), max_size=3)


@st.composite
def text_nodes(draw):
    text = draw(texts)
    if draw(st.integers(0, 5)) == 0:
        return {"type": "text", "text": text, "marks": [{"type": "code"}]}
    marks = [{"type": name} for name in sorted(draw(simple_marks))]
    if draw(st.integers(0, 4)) == 0:
        marks.append(draw(links))
    return {"type": "text", "text": text, "marks": marks} if marks else {"type": "text",
                                                                           "text": text}


inline = st.lists(text_nodes() | st.just({"type": "hardBreak"}), max_size=6)


def paragraph(content):
    return {"type": "paragraph", "content": content}


paragraphs = st.builds(paragraph, inline)
headings = st.builds(lambda level, content: {"type": "heading", "attrs": {"level": level},
                                             "content": content},
                     st.integers(1, 6), inline)
code_blocks = st.builds(
    lambda language, code: {"type": "codeBlock", "attrs": {"language": language},
                            "content": [{"type": "text", "text": code}] if code else []},
    st.none() | words, st.text(st.sampled_from(list(SPECIAL) + ["\n", "`", "a"]), max_size=20))
images = st.builds(lambda src, alt, title: {"type": "image",
                                            "attrs": {"src": src, "alt": alt, "title": title}},
                   urls, st.none() | texts, st.none() | texts)
leaves = paragraphs | headings | code_blocks | images | st.just({"type": "horizontalRule"})


@st.composite
def tables(draw):
    columns = draw(st.integers(1, 3))
    aligns = draw(st.lists(st.sampled_from([None, "left", "center", "right"]),
                           min_size=columns, max_size=columns))
    rows = []
    for index in range(draw(st.integers(1, 3))):
        cell_type = "tableHeader" if index == 0 else "tableCell"
        rows.append({"type": "tableRow", "content": [
            {"type": cell_type, "attrs": {"align": align},
             "content": [paragraph(draw(st.lists(text_nodes(), max_size=3)))]}
            for align in aligns]})
    return {"type": "table", "content": rows}


def _containers(children):
    items = st.builds(lambda first, rest: {"type": "listItem", "content": [first, *rest]},
                      paragraphs, st.lists(children, max_size=2))
    task_items = st.builds(
        lambda checked, first, rest: {"type": "taskItem", "attrs": {"checked": checked},
                                      "content": [first, *rest]},
        st.booleans(), paragraphs, st.lists(children, max_size=2))
    return (
        st.builds(lambda content: {"type": "bulletList", "content": content},
                  st.lists(items, min_size=1, max_size=3))
        | st.builds(lambda start, content: {"type": "orderedList", "attrs": {"start": start},
                                            "content": content},
                    st.integers(0, 12), st.lists(items, min_size=1, max_size=3))
        | st.builds(lambda content: {"type": "taskList", "content": content},
                    st.lists(task_items, min_size=1, max_size=3))
        | st.builds(lambda content: {"type": "blockquote", "content": content},
                    st.lists(children, min_size=1, max_size=3))
    )


blocks = st.recursive(leaves | tables(), _containers, max_leaves=8)
documents = st.builds(lambda content: {"type": "doc", "content": content},
                      st.lists(blocks, max_size=5))
