"""Quota accounting: bytes charged to a user under a row lock, so two parallel uploads can
never overshoot the limit (the second waits for the first's transaction, then sees its bytes).

Charged: every accepted version of every file whose ``quota_owner`` is the user (trash
included, until purged). Released: when a version is deleted, rejected, or its file purged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from drive_app.models import DriveUsage
from suite.errors import SuiteError


class QuotaExceeded(SuiteError):
    code = "quota_exceeded"
    status = 507  # Insufficient Storage, as WebDAV clients expect too


@contextmanager
def figures_hidden() -> Iterator[None]:
    """Around work done for someone with no access of their own to the quota owner's drive
    (a share-link visitor): a :class:`QuotaExceeded` says that there is no room, with its
    code and message only. The figures (used, total, free bytes) describe the owner's drive
    and stay for the owner and the people with their own access."""
    try:
        yield
    except QuotaExceeded:
        raise QuotaExceeded(_("There is not enough space left here for this file.")) from None


def limit_of(usage: DriveUsage) -> int:
    return usage.quota_bytes if usage.quota_bytes is not None else settings.DRIVE_DEFAULT_QUOTA_BYTES


def usage_of(user_id: Any) -> DriveUsage:
    usage, _created = DriveUsage.objects.get_or_create(user_id=user_id)
    return usage


def room_left(user_id: Any) -> int:
    """Bytes the user may still store (at this moment: :func:`charge` decides for good)."""
    usage = usage_of(user_id)
    return max(0, limit_of(usage) - usage.used_bytes)


def exceeded(user_id: Any, size: int) -> QuotaExceeded:
    """The error for ``size`` bytes that do not fit (the room left as it is now)."""
    return _exceeded(usage_of(user_id), size)


def check_room(user_id: Any, size: int) -> None:
    """Refuse early (no lock) an upload that cannot fit; :func:`charge` decides for good."""
    usage = usage_of(user_id)
    if usage.used_bytes + size > limit_of(usage):
        raise _exceeded(usage, size)


def charge(user_id: Any, size: int) -> None:
    """Add ``size`` bytes to the user's usage, or raise :class:`QuotaExceeded`. Call inside
    the transaction that records what the bytes are for.

    One conditional ``UPDATE`` decides: PostgreSQL locks the row and re-evaluates the
    condition after any concurrent charge commits, so parallel uploads cannot overshoot."""
    assert transaction.get_connection().in_atomic_block, "charge() needs a transaction"
    limit = Coalesce(F("quota_bytes"), Value(settings.DRIVE_DEFAULT_QUOTA_BYTES))
    for _attempt in range(2):
        fits = DriveUsage.objects.filter(user_id=user_id)
        if size > 0:
            fits = fits.filter(used_bytes__lte=limit - size)
        if fits.update(used_bytes=F("used_bytes") + size):
            return
        usage, created = DriveUsage.objects.get_or_create(user_id=user_id)
        if not created:
            raise _exceeded(usage, size)
    raise _exceeded(usage_of(user_id), size)


def release(user_id: Any, size: int) -> None:
    if user_id is None or size <= 0:
        return
    DriveUsage.objects.filter(user_id=user_id).update(used_bytes=F("used_bytes") - size)


def _exceeded(usage: DriveUsage, size: int) -> QuotaExceeded:
    limit = limit_of(usage)
    return QuotaExceeded(
        _("Not enough space left: %(needed)s bytes needed, %(left)s bytes left.")
        % {"needed": size, "left": max(0, limit - usage.used_bytes)},
        details={"needed_bytes": size, "used_bytes": usage.used_bytes, "quota_bytes": limit},
    )
