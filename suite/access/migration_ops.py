"""PostgreSQL set-up shared by the migrations of the apps whose resources form a titled tree
(documents, drive items): the unaccent and trigram extensions, the ``communs_unaccent``
function their title searches call, a title search index and a root-path sequence.

Each product can be installed alone, so each app's initial migration runs this set-up itself;
the function is ``CREATE OR REPLACE`` and the extensions ``IF NOT EXISTS``, so the second app
to migrate changes nothing.

Migrations that have been applied call these functions: what they return must never change
(databases that ran it would no longer match a fresh install). A different set-up is a new
function, called from a new migration.
"""

from __future__ import annotations

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations
from django.db.migrations.operations.base import Operation

#: Indentation included, the text the initial migrations have always run.
UNACCENT_FUNCTION_SQL = """
            CREATE OR REPLACE FUNCTION communs_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
            AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
            """


def unaccent_search_setup(*, drop_function_on_reverse: bool) -> list[Operation]:
    """The ``unaccent`` and ``pg_trgm`` extensions, then ``communs_unaccent(text)``.

    ``unaccent()`` is only STABLE (it depends on a dictionary); an IMMUTABLE wrapper bound to
    the default dictionary can be indexed. Searches must call the same function as their
    index. ``drop_function_on_reverse``: unapplying drops the function (else leaves it for
    the other apps that use it)."""
    return [
        UnaccentExtension(),
        TrigramExtension(),
        migrations.RunSQL(
            UNACCENT_FUNCTION_SQL,
            "DROP FUNCTION IF EXISTS communs_unaccent(text)"
            if drop_function_on_reverse
            else migrations.RunSQL.noop,
        ),
    ]


def title_trigram_index(*, name: str, table: str) -> migrations.RunSQL:
    """A trigram index ``name`` on the unaccented, lower-cased ``title`` of ``table`` (after
    :func:`unaccent_search_setup`): substring searches on titles use it."""
    return migrations.RunSQL(
        f"CREATE INDEX {name} ON {table} USING gin (communs_unaccent(lower(title)) gin_trgm_ops)",
        f"DROP INDEX IF EXISTS {name}",
    )


def root_sequence(name: str) -> migrations.RunSQL:
    """The sequence ``name`` that numbers the path segments of a tree's roots (children use
    their parent's ``child_counter``; see ``suite.access.tree.new_root_path``)."""
    return migrations.RunSQL(
        f"CREATE SEQUENCE {name} MINVALUE 0 START 0",
        f"DROP SEQUENCE IF EXISTS {name}",
    )
