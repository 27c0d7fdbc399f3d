"""The locks of desktop clients (WebDAV, decision 0013) and office editors (WOPI, decision
0014), as the drive's own services honour them.

The WebDAV and WOPI layers check their locks themselves (a DAV client submits its lock token,
an office server its lock id) and then call the same services with ``check_locks=False``.
Every other caller (the REST API, share links) gets the rules a DAV client without the lock
token would: RFC 4918 section 7, with an office editing session counted as an exclusive
lock on its file.

- A locked item (a lock on it, or a depth-infinity lock on a folder above it) takes no new
  version, and is not renamed, moved or deleted.
- A folder with a lock below it is not renamed, moved or deleted (the locked URLs would
  vanish under the lock's holder).
- A locked folder (any depth) takes no new member and loses none: nothing is created,
  copied, moved or restored into it, renamed in it, or moved or deleted out of it.

Each check takes a shared advisory lock until its transaction ends, and lock takers an
exclusive one (``dav.locks.await_lock_taking``): a lock taken during a checked change waits
for it, and the check waits for a lock being taken. Refusals are 423 with ``details.locked_by`` (``office_editor`` or ``webdav``) and
``details.where`` (``item``, ``below``, ``folder``): what is locked, never which item below
or above (the actor may not see it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app.models import DavLock, Item, ItemType, WopiLock
from suite.errors import SuiteError

OFFICE_EDITOR, WEBDAV = "office_editor", "webdav"


def holder(item: Item) -> str:
    """Who holds a lock covering ``item`` itself: a lock on it, or a depth-infinity lock on a
    folder above it ("office_editor", "webdav"), or ""."""
    from drive_app.dav.locks import dav_locked
    from drive_app.wopi.locks import current_lock

    if item.type == ItemType.FILE and current_lock(item.pk):
        return OFFICE_EDITOR
    return WEBDAV if dav_locked(item.path) else ""


def holder_below(folder: Item) -> str:
    """Who holds a lock on something inside ``folder`` (any depth), or ""."""
    from drive_app.dav.locks import normalize_lock_root
    from drive_app.dav.namespace import ref_of_path

    if folder.type != ItemType.FOLDER:
        return ""
    now = timezone.now()
    below = WopiLock.objects.filter(item__path__startswith=folder.path, expires_at__gt=now).exclude(item=folder)
    if below.exists():
        return OFFICE_EDITOR
    prefix = normalize_lock_root(ref_of_path(folder.path)).rstrip("/") + "/"
    return WEBDAV if DavLock.objects.filter(root__startswith=prefix, expires_at__gt=now).exists() else ""


def _checking() -> None:
    from drive_app.dav.locks import await_lock_taking

    await_lock_taking()


def refuse_new_version(item: Item) -> None:
    """A file being edited (office editor) or locked by a desktop client takes no new version."""
    _checking()
    locked_by = holder(item)
    if locked_by:
        raise SuiteError(
            _("This file is locked while it is being edited; upload the new version once it is unlocked."),
            code="file_locked", status=423, details={"locked_by": locked_by},
        )


def refuse_changing(item: Item, *, folders: tuple[Item | None, ...] = ()) -> None:
    """``item`` is about to be renamed, moved or deleted, changing the members of
    ``folders`` (its parent, a move's target): refuse while any of them is locked."""
    _checking()
    found = next(_locks(item, folders), None)
    if found is not None:
        raise _locked(*found)


def refuse_adding_to(folder: Item) -> None:
    """Something is about to be created, copied or restored into ``folder``."""
    _checking()
    locked_by = holder(folder)
    if locked_by:
        raise _locked("folder", locked_by)


def _locks(item: Item, folders: tuple[Item | None, ...]) -> Iterator[tuple[str, str]]:
    """(where, who) for each lock in the way, the item's first."""
    locked_by = holder(item)
    if locked_by:
        yield "item", locked_by
    locked_by = holder_below(item)
    if locked_by:
        yield "below", locked_by
    seen: set[Any] = set()
    for folder in folders:
        if folder is None or folder.pk in seen:
            continue
        seen.add(folder.pk)
        locked_by = holder(folder)
        if locked_by:
            yield "folder", locked_by


def _locked(where: str, locked_by: str) -> SuiteError:
    messages = {
        "item": _("This item is locked while it is being edited; try again once it is unlocked."),
        "below": _("An item in this folder is locked while it is being edited; try again once it is unlocked."),
        "folder": _("The folder is locked by a desktop client; try again once it is unlocked."),
    }
    return SuiteError(messages[where], code="item_locked", status=423,
                      details={"locked_by": locked_by, "where": where})
