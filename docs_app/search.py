"""Full-text search of documents: their title and the plain text of their content.

**Indexing.** The content lives elsewhere (CRDT updates); whoever turns it into plain text
calls :func:`index_content` each time it changes. That upserts one ``DocumentContentIndex``
row (a table of its own: document lists select whole ``docs_app_document`` rows and must not
drag megabytes of text along) holding the text and its ``tsvector``: French and English
stemming, both at weight ``B``, so "chevaux" finds "cheval" and "running" finds "run".

**Accents.** Migration 0003 defines the text search configurations ``communs_french`` and
``communs_english``: copies of the built-in ones whose words go through the ``unaccent``
dictionary before the stemmer. Unaccenting inside the configuration rather than with
``communs_unaccent(text)`` in front of it lets ``ts_headline`` run over the original text
and still find the unaccented lexemes, so "ecole" highlights "École" as written.

**Title: matched separately, not part of the content vector.** A document matches when its
title contains the query as a substring (accent- and case-insensitive: the behaviour of the
title search before content search, on the trigram index of migration 0001), or its title
matches the full-text query (stemming; an expression index of migration 0003 over
``TITLE_VECTOR_SQL``), or its content matches the full-text query. Computing the title's
match from the document row at query time means a rename never has to re-index anything and
a document whose content was never indexed is still found by its title. Title matches rank
first (the role weight ``A`` would have in a single vector, made strict); then the content's
``ts_rank`` (more occurrences rank higher); the caller's ordering breaks ties.

**Snippets.** ``snippet`` is ``ts_headline`` of the content around the matches: at most two
short fragments, matches wrapped in ``<mark>``…``</mark>``, or ``""`` when only the title
matched. The content is HTML-escaped (``&``, ``<``, ``>``, ``"``) *before* the headline is
computed, so a snippet is HTML whose only tags are ``<mark>`` and ``</mark>``: safe to insert
as element content, and to be shown as text once those two tags are handled.

**Bounds.** At most ``INDEXED_CHARS`` characters of content are indexed, fewer if their
vector would pass PostgreSQL's 1 MB ``tsvector`` limit (the text is then halved until it
fits), so a huge document never makes indexing fail. Snippets are cut from the first
``SNIPPET_SOURCE_CHARS`` characters (``ts_headline`` re-parses its input: ~4 ms per 50,000
characters); a match further in yields a fragment from the start without a ``<mark>``.
Queries keep their first ``MAX_QUERY_CHARS`` characters; queries with no positive term (only
stop words, only punctuation, only ``-negations``) match no content, which also keeps them off
a full index scan.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import (
    BooleanField,
    CharField,
    Expression,
    FloatField,
    QuerySet,
    Value,
)

from docs_app.models import Document, DocumentContentIndex

FRENCH = "communs_french"
ENGLISH = "communs_english"

INDEXED_CHARS = 500_000
SNIPPET_SOURCE_CHARS = 50_000
MAX_QUERY_CHARS = 256

HEADLINE_OPTIONS = (
    'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=12, MinWords=4, '
    'FragmentDelimiter=" … "'
)

#: The title's full-text vector; must be, token for token, the expression of the index
#: ``docs_document_title_fts`` (migration 0003), or the planner cannot use that index.
TITLE_VECTOR_SQL = (
    f"(to_tsvector('{FRENCH}'::regconfig, {{title}}) "
    f"|| to_tsvector('{ENGLISH}'::regconfig, {{title}}))"
)

#: How ``search`` orders its results: title matches first, then the content's rank.
SEARCH_ORDERING = ("-search_title_match", "-search_rank")

# ``tsvector`` larger than 1 MB: SQLSTATE 54000, program_limit_exceeded.
_PROGRAM_LIMIT_EXCEEDED = "54000"
_MIN_INDEXED_CHARS = 1_000


# --- indexing ---------------------------------------------------------------------------------


def _truncate(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, without the word cut in half at the end."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():
        cut = max(head.rfind(" "), head.rfind("\n"))
        if cut > 0:
            head = head[:cut]
    return head


def _storable(text: str) -> str:
    """``text`` as PostgreSQL can store it: no NUL character, valid UTF-8 (a lone surrogate,
    which a buggy client could have sent, becomes ``?``)."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


_UPSERT_SQL = f"""
    INSERT INTO {DocumentContentIndex._meta.db_table} (document_id, text, vector, updated_at)
    SELECT _d.id, _b.body,
           setweight(to_tsvector('{FRENCH}'::regconfig, _b.body), 'B')
           || setweight(to_tsvector('{ENGLISH}'::regconfig, _b.body), 'B'),
           now()
    FROM {Document._meta.db_table} _d, (SELECT %s::text AS body) _b
    WHERE _d.id = %s
    ON CONFLICT (document_id) DO UPDATE
    SET text = EXCLUDED.text, vector = EXCLUDED.vector, updated_at = EXCLUDED.updated_at
"""  # noqa: S608 -- table and configuration names are our constants; values are parameters


def index_content(document_id: Any, text: str) -> None:
    """Make ``text`` (the plain text of the document's content) what search matches for the
    document, replacing what was indexed before. One statement; safe to call concurrently
    for the same document (the last write wins: callers send the latest content).

    A ``document_id`` that does not exist (any more) indexes nothing and raises nothing: the
    document may have been destroyed while its indexing was pending.
    """
    body = _truncate(_storable(text), INDEXED_CHARS)
    while True:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_UPSERT_SQL, [body, str(document_id)])
            return
        except DatabaseError as error:
            too_large = getattr(error.__cause__, "sqlstate", None) == _PROGRAM_LIMIT_EXCEEDED
            if not too_large or len(body) <= _MIN_INDEXED_CHARS:
                raise
            # Many distinct words: the vector passed 1 MB. Index less of the text.
            body = _truncate(body, len(body) // 2)


# --- searching --------------------------------------------------------------------------------


class SearchSQL(Expression):
    """A fragment of search SQL about the documents of the outer query. ``{doc}`` in
    ``template`` becomes the alias the compiler gave the document table (as in
    ``suite.access.resolve.EffectiveRole``: precompiled SQL, nothing to resolve). Templates
    are built from this module's constants only; what the user typed is always a parameter.
    """

    def __init__(self, template: str, params: list[Any], output_field: Any):
        super().__init__(output_field=output_field)
        self.template = template
        self.params = params

    def resolve_expression(self, *args: Any, **kwargs: Any) -> SearchSQL:
        return self

    def get_group_by_cols(self) -> list[Any]:
        return []

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        alias = connection.ops.quote_name(compiler.query.get_initial_alias())
        return self.template.replace("{doc}", alias), list(self.params)


class _Query:
    """SQL pieces for one cleaned query string. Each piece comes with its parameters, in the
    order of its ``%s``."""

    def __init__(self, q: str):
        self.q = q

    def tsquery(self) -> tuple[str, list[Any]]:
        """The query in both configurations: matches either's word forms."""
        return (
            f"(websearch_to_tsquery('{FRENCH}'::regconfig, %s) "
            f"|| websearch_to_tsquery('{ENGLISH}'::regconfig, %s))",
            [self.q, self.q],
        )

    def tsquery_in(self, config: str) -> tuple[str, list[Any]]:
        return f"websearch_to_tsquery('{config}'::regconfig, %s)", [self.q]

    def full_text_match(self, vector_sql: str) -> tuple[str, list[Any]]:
        """``vector @@ query``, false when the query has no positive term (``querytree``
        gives ``T``: it could not use an index). Both are constant-folded at plan time."""
        query, params = self.tsquery()
        return (
            f"(querytree({query}) <> 'T' AND {vector_sql} @@ {query})",
            [*params, *params],
        )

    def title_match(self, title_sql: str) -> tuple[str, list[Any]]:
        # The pattern is escaped here and unaccented in SQL, like the trigram index; a
        # constant expression, so the planner can use that index.
        escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        fts, fts_params = self.full_text_match(TITLE_VECTOR_SQL.format(title=title_sql))
        return (
            f"(communs_unaccent(lower({title_sql})) "
            f"LIKE '%%' || communs_unaccent(lower(%s)) || '%%' OR {fts})",
            [escaped, *fts_params],
        )


def _matches(query: _Query) -> SearchSQL:
    document = connection.ops.quote_name(Document._meta.db_table)
    content = connection.ops.quote_name(DocumentContentIndex._meta.db_table)
    title, title_params = query.title_match("_st.title")
    body, body_params = query.full_text_match("_sc.vector")
    # Candidates from each index, then the outer rows by primary key: an OR across the
    # two tables would defeat both indexes.
    return SearchSQL(
        f"({{doc}}.id IN (SELECT _st.id FROM {document} _st WHERE {title} "  # noqa: S608
        f"UNION ALL SELECT _sc.document_id FROM {content} _sc WHERE {body}))",
        [*title_params, *body_params],
        BooleanField(),
    )


def _title_match(query: _Query) -> SearchSQL:
    sql, params = query.title_match("{doc}.title")
    return SearchSQL(sql, params, BooleanField())


def _rank(query: _Query) -> SearchSQL:
    content = connection.ops.quote_name(DocumentContentIndex._meta.db_table)
    tsquery, params = query.tsquery()
    return SearchSQL(
        f"COALESCE((SELECT ts_rank(_sc.vector, {tsquery}) FROM {content} _sc "  # noqa: S608
        f"WHERE _sc.document_id = {{doc}}.id), 0)",
        params,
        FloatField(),
    )


def _snippet(query: _Query) -> SearchSQL:
    content = connection.ops.quote_name(DocumentContentIndex._meta.db_table)
    french, french_params = query.tsquery_in(FRENCH)
    english, english_params = query.tsquery_in(ENGLISH)
    matches, match_params = query.full_text_match("_sc.vector")
    escaped = "left(_sc.text, %s)"
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        escaped = f"replace({escaped}, '{char}', '{entity}')"
    # The French headline (French words, French query) first; when it highlights nothing
    # (the content matched through English word forms), the English one. Each with its own
    # configuration's query: a query in both makes PostgreSQL cut poorer fragments.
    # ``OFFSET 0`` keeps the planner from inlining the subquery, which would compute the
    # French headline twice.
    return SearchSQL(
        "COALESCE((SELECT CASE WHEN strpos(_sh.french, '<mark>') > 0 THEN _sh.french "  # noqa: S608
        f"ELSE ts_headline('{ENGLISH}'::regconfig, _sh.body, {english}, %s) END "
        f"FROM (SELECT _sb.body, ts_headline('{FRENCH}'::regconfig, _sb.body, {french}, %s) "
        f"AS french FROM (SELECT {escaped} AS body FROM {content} _sc "
        f"WHERE _sc.document_id = {{doc}}.id AND {matches}) _sb OFFSET 0) _sh), '')",
        [
            *english_params, HEADLINE_OPTIONS,
            *french_params, HEADLINE_OPTIONS,
            SNIPPET_SOURCE_CHARS, *match_params,
        ],
        CharField(),
    )


def clean_query(q: str) -> str:
    """``q`` as searched: without NUL characters (PostgreSQL rejects them), at most
    ``MAX_QUERY_CHARS`` characters (without a word cut in half at the end), stripped."""
    return _truncate(q.replace("\x00", ""), MAX_QUERY_CHARS).strip()


def search(queryset: QuerySet[Document], q: str) -> QuerySet[Document]:
    """The documents of ``queryset`` matching ``q`` (see the module docstring), annotated
    with ``snippet``, ``search_title_match`` and ``search_rank`` and ordered by
    ``SEARCH_ORDERING``. ``q`` is a web-search query (``"a phrase"``, ``or``, ``-word``);
    any string is accepted, a blank one matches nothing. Scoping ``queryset`` to what the
    actor may see is the caller's job; no extra query is made (all of it is SQL in the
    queryset's own statement, and ``snippet`` is only computed for the rows returned)."""
    cleaned = clean_query(q)
    if not cleaned:
        return queryset.annotate(
            snippet=Value(""), search_title_match=Value(False), search_rank=Value(0.0)
        ).none()
    query = _Query(cleaned)
    return (
        queryset.filter(_matches(query))
        .annotate(
            search_title_match=_title_match(query),
            search_rank=_rank(query),
            snippet=_snippet(query),
        )
        .order_by(*SEARCH_ORDERING, "pk")
    )
