"""WebDAV locks in PostgreSQL (``DavLock``), shared by every server process.

:class:`DavLockStorage` implements the storage interface of WsgiDAV's ``LockManager``
(the same contract as its ``LockStorageDict``: lock dictionaries keyed by token, looked up
by root URL, expired locks never returned). Roots are canonical URLs (``namespace.ref_of``),
so a lock on a shared folder binds every user who sees it, whatever their DAV path.

:class:`DavLockManager` makes "check for conflicts, then create" atomic across processes:
WsgiDAV's own guard is an in-process lock; ours adds a transaction-level PostgreSQL advisory
lock around ``acquire``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wsgidav.lock_man.lock_manager import (
    LockManager,
    generate_lock_token,
    normalize_lock_root,
    validate_lock,
)

from drive_app.dav.errors import DavProblem
from drive_app.dav.session import current_session
from drive_app.models import DavLock

#: Longest lock lifetime granted (also for "Infinite"): a client that still needs the lock
#: refreshes it; a client that vanished does not block others for weeks.
MAX_TIMEOUT_SECONDS = 24 * 3600
ADVISORY_KEY = 0x636F6D6D_64617601  # "comm" + "dav" 1: serializes lock acquisitions


def _to_row_data(lock: dict[str, Any]) -> dict[str, Any]:
    data = dict(lock)
    owner = data.get("owner", b"")
    data["owner"] = owner.decode("utf-8") if isinstance(owner, bytes) else owner
    return data


def _from_row(row: DavLock) -> dict[str, Any]:
    lock = dict(row.data)
    lock["owner"] = (lock.get("owner") or "").encode("utf-8")
    lock["token"] = row.token
    lock["root"] = row.root
    return lock


#: The principal of the locks that stand for WOPI locks: no DAV user is ever it, so no DAV
#: request can submit such a lock as its own (WsgiDAV checks principal and token).
WOPI_PRINCIPAL = "wopi"
WOPI_OWNER = b'<D:owner xmlns:D="DAV:">office editing session (WOPI)</D:owner>'


def _wopi_lock(root: str, lock_id: str, expires_at: dt.datetime) -> dict[str, Any]:
    """A file being edited in an office server, as an exclusive DAV write lock on it that no
    DAV client holds: writes, deletes, moves and LOCKs of it answer 423 until the editing
    session ends, and its lockdiscovery shows who holds it."""
    expire = expires_at.timestamp()
    return {
        "root": root, "type": "write", "scope": "exclusive", "depth": "0", "owner": WOPI_OWNER,
        "timeout": max(1.0, expire - time.time()), "expire": expire, "principal": WOPI_PRINCIPAL,
        "token": "opaquelocktoken:wopi-" + hashlib.sha256(f"{root}\n{lock_id}".encode()).hexdigest()[:32],
    }


def _wopi_locks(*, roots: Iterable[str] = (), under: str | None = None) -> list[dict[str, Any]]:
    """The live WOPI locks of the items at ``roots`` (canonical URLs), or of the items below
    ``under``, as DAV locks."""
    from drive_app.dav.namespace import ref_of_path, tree_path_of_ref
    from drive_app.models import WopiLock

    query = WopiLock.objects.filter(expires_at__gt=timezone.now())
    if under is not None:
        query = query.filter(item__path__startswith=tree_path_of_ref(under)).exclude(
            item__path=tree_path_of_ref(under))
    else:
        query = query.filter(item__path__in=[tree_path_of_ref(root) for root in roots if root != "/"])
    return [
        _wopi_lock(normalize_lock_root(ref_of_path(path)), lock_id, expires_at)
        for path, lock_id, expires_at in query.values_list("item__path", "lock_id", "expires_at")
    ]


def dav_locked(item_path: str) -> bool:
    """Whether a live WebDAV write lock covers the item at tree path ``item_path``: on the
    item itself, or with depth infinity on a folder above it (a WOPI editing session must not
    take or write a file a desktop client holds)."""
    from drive_app.dav.namespace import ref_of_path

    ref = normalize_lock_root(ref_of_path(item_path))
    rows = DavLock.objects.filter(root__in=[ref, *_ancestors(ref)], expires_at__gt=timezone.now())
    return any(root == ref or (data or {}).get("depth") == "infinity" for root, data in rows.values_list("root", "data"))


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:end]) for end in range(len(parts) - 1, 0, -1)] + ["/"]


class DavLockStorage:
    """Lock storage over ``DavLock`` rows (see ``wsgidav.lock_man.lock_storage``)."""

    def __repr__(self) -> str:
        return "DavLockStorage"

    # --- lifecycle (nothing to open: the database is always there) ---------------------------

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def cleanup(self) -> None:
        DavLock.objects.filter(expires_at__lte=timezone.now()).delete()

    def clear(self) -> None:
        DavLock.objects.all().delete()
        self._forget()

    # --- reads ---------------------------------------------------------------------------------

    def get(self, token: str) -> dict[str, Any] | None:
        row = DavLock.objects.filter(token=token, expires_at__gt=timezone.now()).first()
        return _from_row(row) if row is not None else None

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool, token_only: bool) -> list[Any]:
        """Valid direct locks on ``path`` (``include_root``) and/or below it."""
        assert include_root or include_children
        path = normalize_lock_root(path)
        session = current_session()
        if session is not None and include_root and not include_children:
            if path not in session.locks:
                # WsgiDAV walks up from a resource, asking for each ancestor's locks in
                # turn: fetch the whole chain at once.
                self.prefetch([path, *_ancestors(path)])
            locks = [lock for lock in session.locks[path] if float(lock["expire"]) > time.time()]
        else:
            query = DavLock.objects.none()
            if include_root:
                query = query | DavLock.objects.filter(root=path)
            if include_children:
                query = query | DavLock.objects.filter(root__startswith=path.rstrip("/") + "/")
            locks = [_from_row(row) for row in query.filter(expires_at__gt=timezone.now()).order_by("root", "token")]
            if include_root:
                locks += _wopi_locks(roots=[path])
            if include_children:
                locks += _wopi_locks(under=path)
        return [lock["token"] for lock in locks] if token_only else locks

    def prefetch(self, refs: list[str]) -> None:
        """Load the direct locks of ``refs`` in one query into the request's session (a
        PROPFIND asks each listed resource for its lockdiscovery)."""
        session = current_session()
        if session is None or not refs:
            return
        wanted = [normalize_lock_root(ref) for ref in refs if normalize_lock_root(ref) not in session.locks]
        if not wanted:
            return
        for ref in wanted:
            session.locks[ref] = []
        # A file a PUT is creating has a provisional URL ("<folder>/~<name>", NewFile): no
        # lock is ever rooted there (a LOCK of an unmapped URL creates the file first).
        stored = [ref for ref in wanted if "/~" not in ref]
        if not stored:
            return
        for row in DavLock.objects.filter(root__in=stored, expires_at__gt=timezone.now()).order_by("token"):
            session.locks[row.root].append(_from_row(row))
        for lock in _wopi_locks(roots=stored):
            session.locks.setdefault(lock["root"], []).append(lock)

    # --- writes --------------------------------------------------------------------------------

    def create(self, path: str, lock: dict[str, Any]) -> dict[str, Any]:
        """Store a new lock on ``path``; fills in ``root``, ``timeout``, ``expire``, ``token``."""
        assert lock.get("token") is None and lock.get("expire") is None
        path = normalize_lock_root(path)
        timeout = float(lock.get("timeout") or MAX_TIMEOUT_SECONDS)
        if timeout < 0 or timeout > MAX_TIMEOUT_SECONDS:
            timeout = MAX_TIMEOUT_SECONDS
        lock.update(root=path, timeout=timeout, expire=time.time() + timeout)
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        now = timezone.now()
        DavLock.objects.filter(expires_at__lte=now).delete()
        DavLock.objects.create(
            token=lock["token"], root=path, data=_to_row_data(lock), expires_at=now + dt.timedelta(seconds=timeout)
        )
        self._forget()
        return lock

    def refresh(self, token: str, *, timeout: float) -> dict[str, Any]:
        if timeout < 0 or timeout > MAX_TIMEOUT_SECONDS:
            timeout = MAX_TIMEOUT_SECONDS
        with transaction.atomic():
            row = DavLock.objects.select_for_update().filter(token=token, expires_at__gt=timezone.now()).first()
            if row is None:
                raise DavProblem(412, _("This lock does not exist or has expired."), code="lock_not_found",
                                 condition="{DAV:}lock-token-matches-request-uri")
            lock = _from_row(row)
            lock.update(timeout=timeout, expire=time.time() + timeout)
            row.data = _to_row_data(lock)
            row.expires_at = timezone.now() + dt.timedelta(seconds=timeout)
            row.save(update_fields=["data", "expires_at"])
        self._forget()
        return lock

    def delete(self, token: str) -> bool:
        deleted, _per_model = DavLock.objects.filter(token=token).delete()
        self._forget()
        return bool(deleted)

    def delete_under(self, ref: str) -> None:
        """Forget the locks on ``ref`` and below (the resource was moved or deleted: RFC
        4918 7.5 — locks do not follow a MOVE)."""
        root = normalize_lock_root(ref)
        DavLock.objects.filter(root=root).delete()
        DavLock.objects.filter(root__startswith=root.rstrip("/") + "/").delete()
        self._forget()

    @staticmethod
    def _forget() -> None:
        session = current_session()
        if session is not None:
            session.locks.clear()


def serialize_lock_taking() -> None:
    """Wait until no other transaction is taking a lock, DAV LOCK or WOPI Lock, and keep
    others waiting until this transaction ends: each checks the other kind of lock before
    taking its own, so two concurrent takers could otherwise both succeed on one file."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_KEY])


def await_lock_taking() -> None:
    """For a change that checked the locks (``services.locks``): wait for locks being taken
    to commit, and keep new ones from being taken until this transaction ends, so what the
    check read stays true while the change is made. Shared: checks do not wait for each
    other. Take it before any row lock (lock takers take it first too)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [ADVISORY_KEY])


class DavLockManager(LockManager):
    """WsgiDAV's lock manager with acquisitions serialized across processes (and with WOPI
    locks being taken: :func:`serialize_lock_taking`)."""

    storage: DavLockStorage

    def acquire(self, **kwargs: Any) -> dict[str, Any]:
        with transaction.atomic():
            serialize_lock_taking()
            return super().acquire(**kwargs)
