"""Full-text search of document content through ``GET /documents/?q=``: matching (accents,
French and English stemming, titles), ranking, snippets, visibility, cost, bad input."""

from __future__ import annotations

import html
import itertools
import re
import uuid
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from docs_app.models import DocumentContentIndex
from docs_app.search import INDEXED_CHARS, MAX_QUERY_CHARS, index_content
from suite.access.roles import Role
from tests.conftest import assert_error
from tests.docs_app.conftest import API

pytestmark = pytest.mark.django_db

FILLER = "Le compte rendu de la réunion du conseil, avec les remarques de chacun. "


def search(client, q, **params):
    query = "&".join([f"q={quote(q)}", *(f"{key}={value}" for key, value in params.items())])
    response = client.get(f"{API}?{query}")
    assert response.status_code == 200, response.content
    return response.json()["items"]


def titles(items):
    return [item["title"] for item in items]


@pytest.fixture
def indexed(make_document):
    """``indexed(text, owner=..., **fields)``: a document whose content ``text`` is indexed."""

    def make(text, **fields):
        document = make_document(**fields)
        index_content(document.pk, text)
        return document

    return make


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "q", "unrelated", "unrelated_title"),
    [
        # accents and case
        ("Rentrée à l'École Jules Ferry.", "ecole", "Rien à voir.", "Autre"),
        ("Rentrée à l'École Jules Ferry.", "ÉCOLE", "Rien à voir.", "Autre"),
        ("rentree a l'ecole jules ferry", "école", "Rien à voir.", "Autre"),
        # French word forms
        ("Les chevaux sont au pré.", "cheval", "Des vaches au pré.", "Autre"),
        ("Un cheval est au pré.", "chevaux", "Des vaches au pré.", "Autre"),
        ("Nous avons organisé les réunions.", "organiser réunion", "Des vaches au pré.", "Autre"),
        # English word forms
        ("She was running late.", "run", "Nothing related here.", "Other"),
        ("Let us run the tests.", "running", "Nothing related here.", "Other"),
        ("Two ponies in the field.", "pony", "Nothing related here.", "Other"),
    ],
)
def test_search_content_ignores_accents_case_and_word_forms(
    api, user, indexed, content, q, unrelated, unrelated_title
):
    indexed(content, owner=user, title="Notes")
    indexed(unrelated, owner=user, title=unrelated_title)

    assert titles(search(api(user), q)) == ["Notes"]


def test_search_requires_every_word_and_honours_phrases(api, user, indexed):
    indexed("Le conseil municipal a voté.", owner=user, title="phrase")
    indexed("Le municipal et le conseil.", owner=user, title="words")
    indexed("Le conseil a voté.", owner=user, title="one word")
    client = api(user)

    assert sorted(titles(search(client, "conseil municipal"))) == ["phrase", "words"]
    assert titles(search(client, '"conseil municipal"')) == ["phrase"]
    assert titles(search(client, "conseil -municipal")) == ["one word"]


def test_search_title_matches_word_forms_without_content(api, user, make_document):
    make_document(owner=user, title="Les chevaux du haras")
    make_document(owner=user, title="Les vaches")

    assert titles(search(api(user), "cheval")) == ["Les chevaux du haras"]


def test_search_title_substring_still_matches(api, user, indexed):
    indexed("Sans rapport.", owner=user, title="Prévisionnel 2026")

    assert titles(search(api(user), "visionnel 20")) == ["Prévisionnel 2026"]


def test_index_content_replaces_previous_text(api, user, indexed):
    document = indexed("Première version: pommes.", owner=user, title="Notes")
    client = api(user)

    index_content(document.pk, "Seconde version: poires.")

    assert titles(search(client, "pommes")) == []
    assert titles(search(client, "poires")) == ["Notes"]


def test_index_content_of_missing_document_does_nothing():
    index_content(uuid.uuid4(), "du texte")

    assert not DocumentContentIndex.objects.exists()


def test_index_content_accepts_nul_and_lone_surrogates(api, user, indexed):
    indexed("pomme\x00 poire \ud800 prune", owner=user, title="Notes")

    assert titles(search(api(user), "poire")) == ["Notes"]


def test_index_content_of_huge_text_indexes_its_beginning(api, user, indexed):
    """2 MB of distinct three-character CJK words: the first 500,000 characters would make
    a ``tsvector`` over PostgreSQL's 1 MB limit, so less is indexed, without an error."""
    ideographs = [chr(code) for code in range(0x4E00, 0x4E00 + 200)]
    words = ("".join(letters) for letters in itertools.product(ideographs, repeat=3))
    text = "Préambule " + " ".join(itertools.islice(words, 500_000)) + " épilogue"
    document = indexed(text, owner=user, title="Énorme")

    stored = DocumentContentIndex.objects.get(pk=document.pk).text
    assert 0 < len(stored) < INDEXED_CHARS
    assert text.startswith(stored)
    client = api(user)
    assert titles(search(client, "preambule")) == ["Énorme"]
    assert titles(search(client, "epilogue")) == []


def test_index_content_caps_long_text_at_a_word_boundary(user, indexed):
    text = "mot " * (INDEXED_CHARS // 4 + 1000)
    document = indexed(text, owner=user)

    stored = DocumentContentIndex.objects.get(pk=document.pk).text
    assert len(stored) <= INDEXED_CHARS
    assert stored.endswith("mot")


# --- ranking --------------------------------------------------------------------------------


def test_search_ranks_title_matches_first(api, user, indexed):
    indexed("budget " * 20, owner=user, title="A notes")
    indexed("Sans rapport.", owner=user, title="B budget")

    # ``ordering=title`` alone would put "A notes" first.
    assert titles(search(api(user), "budget", ordering="title")) == ["B budget", "A notes"]


def test_search_ranks_more_matches_higher(api, user, indexed):
    indexed(FILLER + "Le budget est voté. " + FILLER, owner=user, title="A once")
    indexed(FILLER + "Budget, budget et encore budget. " + FILLER, owner=user, title="B thrice")
    indexed(FILLER + "Le budget, puis le budget. " + FILLER, owner=user, title="C twice")

    items = search(api(user), "budget", ordering="title")

    assert titles(items) == ["B thrice", "C twice", "A once"]


def test_search_ties_follow_the_requested_ordering(api, user, indexed):
    for title in ("b", "c", "a"):
        indexed("même contenu", owner=user, title=title)
    client = api(user)

    assert titles(search(client, "contenu", ordering="title")) == ["a", "b", "c"]
    assert titles(search(client, "contenu", ordering="-title")) == ["c", "b", "a"]


# --- snippets -------------------------------------------------------------------------------


def _marked(snippet):
    return re.findall(r"<mark>(.*?)</mark>", snippet)


def test_snippet_highlights_matches_as_written(api, user, indexed):
    indexed(
        FILLER * 20 + "La cantine de l'École Jules Ferry ferme en juillet. " + FILLER * 20,
        owner=user,
        title="Notes",
    )

    (item,) = search(api(user), "ecole")

    assert _marked(item["snippet"]) == ["École"]
    assert "cantine de l'<mark>École</mark> Jules Ferry" in item["snippet"]
    assert len(item["snippet"]) < 300  # short fragments, not the whole content


def test_snippet_has_at_most_two_fragments(api, user, indexed):
    indexed(" ".join([FILLER * 5 + "budget"] * 6), owner=user, title="Notes")

    (item,) = search(api(user), "budget")

    assert _marked(item["snippet"]) == ["budget", "budget"]
    assert item["snippet"].count(" … ") == 1


def test_snippet_highlights_english_word_forms(api, user, indexed):
    indexed("Yesterday she was running late for the meeting.", owner=user, title="Notes")

    (item,) = search(api(user), "run")

    assert _marked(item["snippet"]) == ["running"]


@pytest.mark.parametrize(
    ("content", "escaped"),
    [
        ('<img src=x onerror="alert(1)"> <script>alert(2)</script> école', "&lt;/script&gt;"),
        (
            "Voici l'<b>école</b> & la cantine du village",
            "l'&lt;b&gt;<mark>école</mark>&lt;/b&gt; &amp; la cantine",
        ),
        (
            'Lien <a href="javascript:alert(1)">école</a> du village voisin',
            "&quot;&gt;<mark>école</mark>&lt;/a&gt; du village",
        ),
        ("Texte &lt;mark&gt; école du village voisin", "&amp;gt; <mark>école</mark>"),
    ],
)
def test_snippet_escapes_html_of_the_content(api, user, indexed, content, escaped):
    indexed(content, owner=user, title="Notes")

    (item,) = search(api(user), "ecole")

    snippet = item["snippet"]
    assert _marked(snippet) == ["école"]
    assert escaped in snippet
    without_marks = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks and ">" not in without_marks
    assert html.unescape(without_marks) in content


def test_snippet_is_empty_when_only_the_title_matched(api, user, indexed, make_document):
    indexed("Sans rapport.", owner=user, title="Budget 2026")
    make_document(owner=user, title="Budget 2027")  # never indexed

    items = search(api(user), "budget")

    assert sorted(titles(items)) == ["Budget 2026", "Budget 2027"]
    assert [item["snippet"] for item in items] == ["", ""]


def test_snippet_is_null_without_search(api, user, indexed):
    indexed("Du contenu.", owner=user, title="Notes")

    response = api(user).get(API)

    assert response.status_code == 200
    assert [item["snippet"] for item in response.json()["items"]] == [None]


# --- visibility -----------------------------------------------------------------------------


def test_search_never_returns_invisible_documents(api, user, other_user, indexed, grant):
    words = "Le rapport confidentiel sur la fusion."
    indexed(words, owner=user, title="mine")
    indexed(words, owner=other_user, title="stranger's")
    indexed(words, owner=other_user, title="restricted link", link_reach="restricted")
    shared = indexed(words, owner=other_user, title="shared")
    grant(shared, user, Role.READER)
    indexed(words, parent=shared, title="shared child")
    client = api(user)

    assert sorted(titles(search(client, "fusion confidentielle"))) == [
        "mine", "shared", "shared child",
    ]


def test_search_never_returns_documents_in_the_trash(api, user, indexed):
    words = "Le rapport confidentiel sur la fusion."
    indexed(words, owner=user, title="kept")
    trashed = indexed(words, owner=user, title="trashed")
    indexed(words, parent=trashed, title="child of trashed")
    client = api(user)
    assert client.delete(f"{API}{trashed.pk}").status_code == 204

    assert titles(search(client, "fusion")) == ["kept"]


def test_search_in_shared_scope_with_content(api, user, other_user, indexed, grant):
    indexed("Le budget de la mairie.", owner=user, title="mine")
    shared = indexed("Le budget de la mairie.", owner=other_user, title="shared")
    grant(shared, user, Role.EDITOR)

    assert titles(search(api(user), "mairie", scope="shared")) == ["shared"]


# --- cost -----------------------------------------------------------------------------------


def test_search_costs_constant_queries(api, user, other_user, indexed, grant):
    parent = indexed("Le dossier.", owner=user, title="dossier")
    client = api(user)

    def populate(n):
        for i in range(n):
            indexed(f"{FILLER} Le budget numéro {i}. {FILLER}", parent=parent, title=f"page {i}")
            shared = indexed(f"Le budget partagé {i}.", owner=other_user, title=f"shared {i}")
            grant(shared, user, Role.READER)
            indexed(f"Le budget caché {i}.", owner=other_user, title=f"hidden {i}")

    def measure():
        with CaptureQueriesContext(connection) as context:
            response = client.get(f"{API}?q=budget")
        assert response.status_code == 200, response.content
        body = response.json()
        assert all("<mark>budget</mark>" in item["snippet"] for item in body["items"])
        return len(context.captured_queries), body["count"]

    client.get(API)  # the token's first use is recorded once: not part of the measure
    populate(3)
    small, small_count = measure()
    populate(30)
    large, large_count = measure()

    assert (small_count, large_count) == (6, 66)
    assert large == small


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("!!!", []),
        ("...,;:", []),
        ("&|!():*<->", []),
        ('"budget', ["Budget"]),
        ('budget"', ["Budget"]),
        ("'budget", ["Budget"]),
        ('"" budget ""', ["Budget"]),
        ("-", []),
        ("-budget", []),  # only an exclusion: matches no content (and no title)
        ("or", []),
        ("on", []),  # a stop word in French and in English
        ("%", []),
        ("_", []),
        ("\\", []),
        ("budget " + "x" * 5000, ["Budget"]),  # the word cut by the length limit is dropped
        ("budget " * 2000, ["Budget"]),
        ("é" * 3000, []),
    ],
)
def test_search_bad_queries_answer_200(api, user, indexed, q, expected):
    indexed("Le budget prévisionnel.", owner=user, title="Budget")
    indexed("Autre chose.", owner=user, title="Autre")

    assert titles(search(api(user), q)) == expected


def test_search_uses_only_the_start_of_a_long_query(api, user, indexed):
    indexed("Le budget prévisionnel.", owner=user, title="Notes")
    client = api(user)

    # Every word must match: the word past the limit would exclude the document.
    assert titles(search(client, "budget" + " " * MAX_QUERY_CHARS + "inexistant")) == ["Notes"]
    assert titles(search(client, "budget " * (MAX_QUERY_CHARS // 7 + 5))) == ["Notes"]


def test_search_with_nul_character_is_the_uniform_400(api, user):
    assert_error(api(user).get(f"{API}?q=budget%00"), 400, "bad_request")
