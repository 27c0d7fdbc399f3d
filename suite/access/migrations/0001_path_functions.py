"""SQL helper of the access layer: the ancestor paths of a materialized path.

``ancestor.path = ANY(communs_path_ancestors(path, step))`` lets PostgreSQL find the
ancestors of a row through the unique index on ``path`` (a few index probes), where
``starts_with(path, ancestor.path)`` can only be checked row by row.
"""

from django.db import migrations

from suite.access.models import PATH_STEP

CREATE = f"""
CREATE OR REPLACE FUNCTION communs_path_ancestors(path text, step integer DEFAULT {PATH_STEP})
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(substr(path, 1, n) ORDER BY n), ARRAY[]::text[])
    FROM generate_series(step, length(path), step) AS n
$$
"""  # noqa: S608 -- built from our own constant, no input


class Migration(migrations.Migration):
    initial = True
    dependencies = []  # type: ignore[var-annotated]
    operations = [
        migrations.RunSQL(CREATE, "DROP FUNCTION IF EXISTS communs_path_ancestors(text, integer)"),
    ]
