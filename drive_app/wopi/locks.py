"""The WOPI lock of a file: one ``WopiLock`` row, an opaque id chosen by the office server,
valid ``WOPI_LOCK_SECONDS`` (30 minutes) unless refreshed. An expired row counts as no lock
and is replaced by the next ``LOCK``.

Every operation runs in a transaction holding the file's ``Item`` row lock
(``SELECT ... FOR UPDATE``), so two office servers racing to lock the same file are
serialized and exactly one wins, whatever the process that serves them. Locks belong to the
editing session, not to a user: everyone editing a document in the same office session
shares its lock id, as the protocol intends.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app.models import Item, WopiLock
from drive_app.wopi.errors import LockMismatch
from suite.errors import NotFound, ValidationFailed

#: WOPI clients may use lock ids of up to 1024 ASCII characters (SupportsExtendedLockLength).
LOCK_ID_MAX_LENGTH = 1024

LOCKED_ELSEWHERE = "Locked by another editing session"
LOCKED_BY_DAV = "Locked by a WebDAV client"
NOT_LOCKED = "File not locked"
NOT_EMPTY = "File not locked and not empty"


def _expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.WOPI_LOCK_SECONDS)


def _live_lock(item_id: Any) -> WopiLock | None:
    """The file's lock, unless there is none or it expired."""
    return WopiLock.objects.filter(item_id=item_id, expires_at__gt=timezone.now()).first()


def _hold(item_id: Any) -> WopiLock | None:
    """Take the file's row lock (call inside a transaction) and return its live lock."""
    Item.objects.select_for_update().filter(pk=item_id).values_list("pk", flat=True).first()
    return _live_lock(item_id)


def _refuse_if_dav_locked(item_id: Any) -> None:
    """A file a WebDAV client holds a write lock on is locked for WOPI too (409, empty
    ``X-WOPI-Lock``: the lock is not a WOPI one): the office server opens it read-only."""
    from drive_app.dav.locks import dav_locked

    path = Item.objects.filter(pk=item_id).values_list("path", flat=True).first()
    if path is not None and dav_locked(path):
        raise LockMismatch("", LOCKED_BY_DAV)


def _hold_matching(item_id: Any, lock_id: str) -> None:
    """Take the file's row lock (call inside a transaction) and check that its live lock has
    the id ``lock_id``, else :class:`LockMismatch`: with an empty id when it is unlocked, with
    the current id when it is locked under another."""
    current = _hold(item_id)
    if current is None:
        raise LockMismatch("", NOT_LOCKED)
    if current.lock_id != lock_id:
        raise LockMismatch(current.lock_id, LOCKED_ELSEWHERE)


def clean_lock_id(lock_id: str | None) -> str:
    """A lock id from a request header: present, at most 1024 characters, no control
    characters (it goes back out in ``X-WOPI-Lock`` headers)."""
    if not lock_id or len(lock_id) > LOCK_ID_MAX_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in lock_id):
        raise ValidationFailed(
            _("X-WOPI-Lock must hold a lock id of 1 to %(max)s characters.") % {"max": LOCK_ID_MAX_LENGTH},
            code="wopi_bad_lock", status=400, details={"header": "X-WOPI-Lock"},
        )
    return lock_id


def current_lock(item_id: Any) -> str:
    """The file's live lock id, or "" (GetLock)."""
    lock = _live_lock(item_id)
    return lock.lock_id if lock is not None else ""


def lock(*, item_id: Any, lock_id: str, user: Any) -> None:
    """Lock: take the lock when the file is unlocked (or its lock expired), refresh it when
    ``lock_id`` is the current one, else :class:`LockMismatch` with the current id."""
    from drive_app.dav.locks import serialize_lock_taking

    lock_id = clean_lock_id(lock_id)
    with transaction.atomic():
        # Before the row lock (the order every lock check takes them in): a DAV LOCK being
        # taken now is seen below, and a trash or move that checked the locks is done.
        serialize_lock_taking()
        current = _hold(item_id)
        if not Item.objects.filter(pk=item_id, ancestors_deleted_at__isnull=True).exists():
            raise NotFound(_("This file no longer exists."))  # trashed while the lock waited
        if current is not None and current.lock_id != lock_id:
            raise LockMismatch(current.lock_id, LOCKED_ELSEWHERE)
        if current is None:
            _refuse_if_dav_locked(item_id)
        WopiLock.objects.update_or_create(
            item_id=item_id, defaults={"lock_id": lock_id, "expires_at": _expiry(), "created_by": user},
        )


def unlock_and_relock(*, item_id: Any, old_lock_id: str, lock_id: str, user: Any) -> None:
    """UnlockAndRelock (Lock with ``X-WOPI-OldLock``): swap the lock id when ``old_lock_id``
    is the current one."""
    old_lock_id = clean_lock_id(old_lock_id)
    lock_id = clean_lock_id(lock_id)
    with transaction.atomic():
        _hold_matching(item_id, old_lock_id)
        WopiLock.objects.filter(item_id=item_id).update(lock_id=lock_id, expires_at=_expiry(), created_by=user)


def refresh(*, item_id: Any, lock_id: str) -> None:
    """RefreshLock: another 30 minutes for the current lock."""
    lock_id = clean_lock_id(lock_id)
    with transaction.atomic():
        _hold_matching(item_id, lock_id)
        WopiLock.objects.filter(item_id=item_id).update(expires_at=_expiry())


def unlock(*, item_id: Any, lock_id: str) -> None:
    """Unlock: drop the current lock when ``lock_id`` is its id."""
    lock_id = clean_lock_id(lock_id)
    with transaction.atomic():
        _hold_matching(item_id, lock_id)
        WopiLock.objects.filter(item_id=item_id).delete()


def check_write(*, item_id: Any, lock_id: str | None, size: int | None) -> None:
    """May a PutFile proceed? A locked file needs its lock id; an unlocked one may only be
    written while empty (how WOPI clients fill a file created empty; ``size`` None: no
    content yet, which is not "empty"), else
    :class:`LockMismatch` with an empty ``X-WOPI-Lock``.

    The check is not held during the upload that follows (the bytes stream to S3 for as long
    as they take; no transaction may stay open that long): a lock taken meanwhile by another
    session does not stop a write that already passed, as a lock taken a moment later would
    not have."""
    current = _live_lock(item_id)
    if current is not None:
        if lock_id != current.lock_id:
            raise LockMismatch(current.lock_id, LOCKED_ELSEWHERE)
    elif size != 0:
        raise LockMismatch("", NOT_EMPTY)
    else:
        _refuse_if_dav_locked(item_id)


def check_unlocked_or_held(*, item_id: Any, lock_id: str | None) -> None:
    """RenameFile: an unlocked file may be renamed; a locked one only with its lock id. A
    folder a WebDAV client locked keeps its members' names (RFC 4918 7.4): refused as a
    WebDAV lock on the file is."""
    from drive_app.dav.locks import dav_locked

    current = _live_lock(item_id)
    if current is not None and lock_id != current.lock_id:
        raise LockMismatch(current.lock_id, LOCKED_ELSEWHERE)
    if current is None:
        _refuse_if_dav_locked(item_id)
    folder = Item.objects.filter(pk=item_id).values_list("parent__path", flat=True).first()
    if folder is not None and dav_locked(folder):
        raise LockMismatch(current.lock_id if current is not None else "", LOCKED_BY_DAV)


__all__ = [
    "LOCK_ID_MAX_LENGTH",
    "check_unlocked_or_held",
    "check_write",
    "clean_lock_id",
    "current_lock",
    "lock",
    "refresh",
    "unlock",
    "unlock_and_relock",
]
