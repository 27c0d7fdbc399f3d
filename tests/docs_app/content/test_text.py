from __future__ import annotations

import pytest

from docs_app.content import json_to_text, make_excerpt
from tests.docs_app.content.samples import EVERY_NODE


def test_every_node_as_text():
    assert json_to_text(EVERY_NODE) == "\n".join([
        "Title bold italic",
        "plain undergonex = 1site\nafter the break",
        "",
        "one",
        "three",
        "two",
        "done",
        "to do",
        "quoted",
        "print(1)\n",
        "",
        "An image",
        "Name\tValue",
        "spans both",
    ])


def test_empty_document_is_empty_text():
    assert json_to_text({"type": "doc", "content": []}) == ""


def test_excerpt_of_short_text_only_collapses_whitespace():
    assert make_excerpt("  a\n\tb   c ") == "a b c"


def test_excerpt_cuts_on_a_word_boundary():
    assert make_excerpt("The quick brown fox jumps", length=16) == "The quick brown…"
    assert make_excerpt("The quick brown fox jumps", length=15) == "The quick…"


def test_excerpt_drops_punctuation_before_the_ellipsis():
    assert make_excerpt("Hello, world and more", length=12) == "Hello…"


def test_excerpt_of_one_long_word_cuts_inside_it():
    assert make_excerpt("a" * 50, length=10) == "a" * 9 + "…"


@pytest.mark.parametrize("length", [1, 5, 17, 300])
def test_excerpt_never_exceeds_length(length):
    text = "lorem ipsum dolor sit amet, " * 40
    excerpt = make_excerpt(text, length)
    assert len(excerpt) <= length
    assert excerpt.endswith("…")


def test_excerpt_rejects_non_positive_length():
    with pytest.raises(ValueError):
        make_excerpt("abc", 0)
