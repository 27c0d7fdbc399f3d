"""Access changes and the writes of long-lived sessions, serialized (decision 0006).

A websocket holds its user's role for hours; the platform re-checks it when access changes,
but that news reaches the socket through Redis, some milliseconds after the API answered.
An update arriving in between must not be stored. So every change of who may do what
(grant, role or link change, revocation, move, trash, team membership, deactivation, a
credential revoked or a session ended) calls :func:`access_changed` in its transaction, and
every write through a long-lived session is stored with :func:`session_write_epoch`:

- after the change commits, and before the service returns (so before the API answers),
  :func:`access_changed` takes an exclusive advisory lock, which waits for the session
  writes in flight to commit, and bumps the *access epoch* (a PostgreSQL sequence);
- a session write takes the same lock shared inside its transaction, then reads the epoch.
  If it differs from the epoch its session's authority was resolved at, the authority is
  resolved again, in that transaction, and a write no longer allowed is not stored.

Why it holds: a writer either committed before the change's barrier got the lock (before
the answer), or took its shared lock after the barrier released it and so sees the new
epoch and, resolving again, the committed change. A session resolves its authority only
after reading the epoch (:func:`current_epoch`), so an epoch it holds never predates what
it resolved. The exclusive lock is taken after the change committed, holding nothing else:
it cannot deadlock with a writer waiting on a row the change locked. Writers only share
the lock, so they never wait for each other; they wait only while a change is committing.

The epoch is global (one sequence for the deployment): changes are rare next to writes,
and a bump costs each session at most one re-resolution at its next write.
"""

from __future__ import annotations

import time

from django.db import connection, transaction

#: Key of the advisory lock (one-key form) serializing access changes with session writes.
LOCK_KEY = 0x636D6E5F61636C  # "cmn_acl"
SEQUENCE = "communs_access_epoch"
_READ_EPOCH = f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SEQUENCE}"  # noqa: S608


#: A session write or a barrier waiting longer than this for the lock gives up (the write
#: is refused and resent by its client; the barrier is retried): one stuck transaction must
#: not stall every document.
LOCK_TIMEOUT = "5s"
BARRIER_ATTEMPTS = 3


def access_changed() -> None:
    """Call in (or right after) the transaction that takes rights away or ends a credential:
    once it commits, session writes in flight are waited for and every later one re-checks
    its authority. Outside a transaction the barrier runs at once. Changes that only give
    rights need not call it (a session that lags behind one is refused too much, never
    allowed too much, and is upgraded by its re-check)."""
    transaction.on_commit(barrier)


def barrier() -> None:
    """Wait for the session writes in flight, then bump the epoch (retried: the change has
    committed already; if the database still refuses, the caller's request fails rather
    than answer as if nothing could be written any more)."""
    from django.db import OperationalError

    for attempt in range(BARRIER_ATTEMPTS):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute("SELECT pg_advisory_xact_lock(%s), nextval(%s)", [LOCK_KEY, SEQUENCE])
            return
        except OperationalError:
            if attempt == BARRIER_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def after_membership_removed(sender: object, **kwargs: object) -> None:
    """A team membership deleted (also by a team's deletion): the member lost its roles."""
    access_changed()


def current_epoch() -> int:
    """The access epoch now: read it *before* resolving a session's authority, and keep the
    two together."""
    with connection.cursor() as cursor:
        cursor.execute(_READ_EPOCH)
        return int(cursor.fetchone()[0])


def session_write_epoch() -> int:
    """Inside the transaction of a session write: wait for an access change being
    committed, then the epoch to compare with the one the session's authority was resolved
    at (resolve again, in this transaction, when they differ)."""
    assert connection.in_atomic_block, "session_write_epoch() needs the write's transaction"
    with connection.cursor() as cursor:
        # Separate statements: the epoch is read after the lock is granted (one round trip).
        cursor.execute(
            f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; "
            f"SELECT pg_advisory_xact_lock_shared({LOCK_KEY}); {_READ_EPOCH}"
        )
        while cursor.nextset():
            pass
        return int(cursor.fetchone()[0])
