"""Embedded engines for the zero-config default: PostgreSQL and S3 under ``SUITE_DATA_DIR``.

``ensure_engines()`` is called by the ``suite`` command before Django loads its settings. For
each engine the environment does not configure (``DATABASE_URL``, ``S3_ENDPOINT_URL``), it
starts an embedded one bound to the loopback interface (or joins the one another ``suite``
process of the same data dir already runs) and exports its coordinates as the same
environment variables, so the rest of the code has a single path.
"""

from __future__ import annotations

from suite.embedded.engines import EmbeddedEngines, ensure_engines

__all__ = ["EmbeddedEngines", "ensure_engines"]
