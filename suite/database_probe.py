"""One direct connection to the configured PostgreSQL, to say why it cannot be reached.

Through the connection pool, every failure to connect ends as "couldn't get a connection
after N sec": the pool retries in the background and keeps libpq's reason to itself. Commands
that need the database (``suite migrate``, ``suite serve``) first connect once without the
pool, with the same parameters, so an operator reads the cause (refused, unknown host,
authentication, missing database, TLS) instead of a timeout.
"""

from __future__ import annotations

import re
from typing import Any

#: Fragments of libpq's messages and what they mean for an operator, in the order tested
#: (psycopg gives no SQLSTATE for a refused connection: the message is all there is).
_CAUSES = (
    (re.compile(r"\bdatabase \".*\" does not exist"), "the database does not exist"),
    (re.compile(r"\brole \".*\" does not exist"), "unknown user"),
    (re.compile(r"password authentication failed|no password supplied|authentication failed|"
                r"no pg_hba\.conf entry"), "authentication failed"),
    (re.compile(r"ssl|certificate|tls", re.IGNORECASE), "TLS failed"),
    (re.compile(r"could not translate host name|failed to resolve host|name or service not known",
                re.IGNORECASE), "unknown host"),
    (re.compile(r"connection refused", re.IGNORECASE), "connection refused"),
    (re.compile(r"no such file or directory", re.IGNORECASE), "no server on that socket"),
    (re.compile(r"timeout expired|timed out", re.IGNORECASE), "timed out"),
    (re.compile(r"too many (clients|connections)"), "too many connections"),
    (re.compile(r"the database system is (starting up|shutting down)"), "the server is not ready"),
)


class DatabaseUnreachable(Exception):
    """The database cannot be connected to; ``str()`` names the cause and libpq's message."""


def describe_connection_error(exc: Exception) -> str:
    """``"<cause>: <libpq message>"`` for a failed psycopg connection."""
    message = " ".join(str(exc).split())  # libpq's hints come on tab-indented lines
    message = message.removeprefix("connection failed: ")
    cause = next((label for pattern, label in _CAUSES if pattern.search(message)), "connection failed")
    return f"{cause}: {message}"


def _target(params: dict[str, Any]) -> str:
    """Where we tried to connect, without the password."""
    host = params.get("host") or "the default socket"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}{port}/{params.get('dbname', '')}"


def probe_database(*, alias: str = "default", timeout_seconds: int = 10) -> None:
    """Open and close one connection with the settings of ``alias``, outside any pool.

    Raises ``DatabaseUnreachable`` naming the target and the cause. A ``connect_timeout``
    given in ``DATABASE_URL`` is kept; otherwise ``timeout_seconds`` bounds the attempt.
    """
    import psycopg
    from django.db import connections

    params = connections[alias].get_connection_params()
    params.setdefault("connect_timeout", timeout_seconds)
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as exc:
        raise DatabaseUnreachable(
            f"cannot connect to the database {_target(params)}: {describe_connection_error(exc)}"
        ) from exc
