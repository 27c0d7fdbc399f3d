"""What each WOPI operation does to the drive, through the drive's own services (so quotas,
type checks, the malware scan, versions and title rules apply exactly as for any upload).

Authorization, on every call (:func:`open_session`): the token must verify for this file
(else 401), its user must be active (else 401), and the user's *current* role decides:
no access any more (or the file is gone or in the trash) is a 404, as WOPI says ("file
unknown / user unauthorized") and as the rest of the API does for missing and forbidden
alike. Writing needs both an ``edit`` token and a current role of editor or above; anything
less is a 401 (:class:`InvalidToken`): the token no longer authorizes the request. Collabora
Online treats 401, 403 and 404 alike on saves and lock requests ("unauthorized"), so the
choice only matters for the logs; 401 is what the WOPI specification names.
"""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from drive_app.dav.locks import dav_locked
from drive_app.models import TITLE_MAX_LENGTH, FileVersion, Item, ItemType, UploadState
from drive_app.permissions import access_item
from drive_app.services.items import _sibling_with_title, clean_title, free_title, item_update
from drive_app.services.uploads import file_write
from drive_app.wopi import locks, tokens
from drive_app.wopi.errors import InvalidToken, WopiError
from drive_app.wopi.tokens import Mode, TokenGrant
from suite.access.resolve import effective_role
from suite.access.roles import Perm, role_allows
from suite.errors import NotFound, ValidationFailed
from suite.storage import BlobReader, get_blob_store

#: Collabora Online's status for "the file changed in storage since the editor loaded it"
#: (the editor then asks the user whether to overwrite).
COOL_DOC_CHANGED = 1010


@dataclass
class WopiSession:
    """One authorized WOPI request: the token's user, the file (with the user's current
    ``effective_role``) and what the token grants."""

    user: Any
    item: Item
    grant: TokenGrant

    @property
    def can_write(self) -> bool:
        return self.grant.mode == Mode.EDIT and role_allows(self.item.effective_role, Perm.EDIT)  # type: ignore[attr-defined]

    def require_write(self) -> None:
        if not self.can_write:
            raise InvalidToken(_("This access token does not allow changing the file."))


def open_session(token: str | None, file_id: Any) -> WopiSession:
    """Authorize a WOPI request on ``file_id`` (see the module docstring for the rules)."""
    from suite.identity.models import User

    grant = tokens.verify(token, file_id)
    user = User.objects.filter(pk=grant.user_id, is_active=True).first()
    if user is None:
        raise InvalidToken()
    item = access_item(user, grant.item_id)  # NotFound: gone, trashed, or no access any more
    if item.type != ItemType.FILE:
        raise NotFound()
    return WopiSession(user=user, item=item, grant=grant)


# --- file facts ---------------------------------------------------------------------------------


def current_version(item: Item) -> FileVersion | None:
    if item.current_version_id is None:
        return None
    return FileVersion.objects.filter(pk=item.current_version_id).first()


def item_version(version_id: Any) -> str:
    """WOPI ``Version`` / ``X-WOPI-ItemVersion``: the id of the version row served, which
    changes with every new content (restores included) and never repeats; "0" before any."""
    return str(version_id) if version_id is not None else "0"


def changed_at(version: FileVersion | None, item: Item) -> dt.datetime:
    if version is None:
        return item.updated_at
    return version.uploaded_at or version.created_at


def wopi_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as WOPI's ``LastModifiedTime``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def extension(title: str) -> str:
    """``.odt`` for ``report.odt``; "" without an extension (or for a dotfile)."""
    stem, dot, ext = title.rpartition(".")
    return f".{ext}" if dot and stem and ext else ""


def stem(title: str) -> str:
    ext = extension(title)
    return title[: -len(ext)] if ext else title


def wopi_src(item_id: Any) -> str:
    """The file's WOPI URL, as the office server reaches this host."""
    return f"{settings.WOPI_HOST_URL}/wopi/files/{item_id}"


def _origin(url: str) -> str:
    scheme, _sep, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


def file_info(session: WopiSession) -> tuple[dict[str, Any], FileVersion | None]:
    """CheckFileInfo's properties (MS-WOPI and what Collabora Online reads)."""
    item, user = session.item, session.user
    version = current_version(item)
    can_write = session.can_write
    parent_role = effective_role(user, Item(pk=item.parent_id)) if item.parent_id else None
    can_create_here = role_allows(parent_role, Perm.EDIT)
    info: dict[str, Any] = {
        "BaseFileName": item.title,
        "FileExtension": extension(item.title),
        "FileNameMaxLength": TITLE_MAX_LENGTH,
        "OwnerId": str(item.quota_owner_id or item.creator_id or ""),
        "Size": (version.size or 0) if version is not None else 0,
        "Version": item_version(version.pk if version is not None else None),
        "LastModifiedTime": wopi_time(changed_at(version, item)),
        "UserId": str(user.pk),
        "UserFriendlyName": user.full_name or user.email,
        "IsAnonymousUser": False,
        "UserCanWrite": can_write,
        "ReadOnly": not can_write,
        "UserCanRename": can_write,
        "UserCanNotWriteRelative": not can_create_here,
        "SupportsLocks": True,
        "SupportsGetLock": True,
        "SupportsExtendedLockLength": True,
        "SupportsUpdate": True,
        "SupportsRename": True,
        "SupportsDeleteFile": False,
        "SupportsContainers": False,
        "SupportsUserInfo": False,
        "SupportsCobalt": False,
        "PostMessageOrigin": _origin(settings.SUITE_PUBLIC_URL),
    }
    if version is not None and version.sha256:
        info["SHA256"] = base64.b64encode(bytes.fromhex(version.sha256)).decode("ascii")
    return info, version


# --- contents -----------------------------------------------------------------------------------


def open_contents(session: WopiSession, *, max_expected_size: int | None) -> tuple[BlobReader, FileVersion]:
    """GetFile: a streaming reader of the current version (only a version that passed every
    check is ever served); 412 when it is larger than ``X-WOPI-MaxExpectedSize``."""
    version = current_version(session.item)
    if version is None or version.state != UploadState.READY:
        raise NotFound(_("This file has no content that can be served yet."), code="file_not_ready")
    if max_expected_size is not None and (version.size or 0) > max_expected_size:
        raise WopiError(_("The file is larger than X-WOPI-MaxExpectedSize."), code="wopi_too_large", status=412)
    return get_blob_store().open(version.key), version


def put_file(session: WopiSession, *, body: Any, size: int | None, content_type: str | None,
             lock_id: str | None, timestamp: str | None) -> FileVersion:
    """PutFile: the body becomes a new version of the file. The file must be locked with
    ``lock_id`` (or unlocked and empty). ``timestamp`` is Collabora's
    ``X-COOL-WOPI-Timestamp``: the ``LastModifiedTime`` its copy is based on; when the file
    got a newer version since, 409 with ``COOLStatusCode`` 1010 and nothing is written."""
    session.require_write()
    item = session.item
    current_size = item.size if item.current_version_id is not None else None
    locks.check_write(item_id=item.pk, lock_id=lock_id, size=current_size)
    if timestamp and _changed_since(item, timestamp):
        raise WopiError(
            _("The file was changed by someone else since it was opened."),
            code="wopi_document_changed", status=409,
            body_extra={"COOLStatusCode": COOL_DOC_CHANGED, "LOOLStatusCode": COOL_DOC_CHANGED},
        )
    _refuse_infected(file_write(actor=session.user, item_id=item.pk, body=body, size=size, content_type=content_type))
    written = FileVersion.objects.filter(item=item).order_by("-number").first()
    assert written is not None
    return written


def _refuse_infected(item: Item) -> Item:
    """A save the scanner found infected is kept aside and never served: the office server
    must not report it saved (any status but 200 and 409 is a failed save to it)."""
    if item.upload_state == UploadState.INFECTED:
        raise WopiError(_("The file contains malware; it was kept aside and will not be served."),
                        code="infected", status=422)
    return item


def _changed_since(item: Item, timestamp: str) -> bool:
    try:
        seen = dt.datetime.fromisoformat(timestamp.strip())
    except ValueError:
        return False  # not one of ours: nothing to compare
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=dt.UTC)
    latest = (
        FileVersion.objects.filter(item=item, state__in=[UploadState.READY, UploadState.ANALYZING])
        .aggregate(at=Max(Coalesce("uploaded_at", "created_at")))["at"]
    )
    return latest is not None and seen < latest


# --- names ----------------------------------------------------------------------------------------


def _sanitized(name: str) -> str:
    """A valid title made from any proposed name (suggested targets may be adjusted):
    separators and control characters become ``_``, too long names are cut keeping the
    extension."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        "_" if ch in "/\\" or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in name
    ).strip()
    ext = extension(name)
    if not stem(name).strip(" ."):
        name = _("Document") + ext
    if len(name) > TITLE_MAX_LENGTH:
        ext = ext if len(ext) < 32 else ""
        name = stem(name)[: TITLE_MAX_LENGTH - len(ext)] + ext
    return clean_title(name)


def _ascii(text: str) -> str:
    """Header-safe text for logs (WOPI error headers are for logging only)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")[:200]


def put_relative(session: WopiSession, *, body: Any, size: int | None, suggested: str | None,
                 relative: str | None, overwrite: bool) -> tuple[Item, str, int]:
    """PutRelativeFile: a new file next to this one (Save As, export). Needs the right to
    create files in the folder, checked now (a read-only session may Save As into a folder
    its user may write to). Suggested mode adjusts the name until it is free; specific mode
    uses it as is, or answers 409 with ``X-WOPI-ValidRelativeTarget`` (a free name) when it is
    taken and may not be overwritten, or is locked (with ``X-WOPI-Lock``). Returns the new
    file and an access token (with its expiry) for it."""
    if (suggested is None) == (relative is None):
        raise WopiError(_("Send exactly one of X-WOPI-SuggestedTarget and X-WOPI-RelativeTarget."),
                        code="wopi_bad_target", status=400)
    item, user = session.item, session.user
    assert item.parent_id is not None  # files always live in a folder
    parent = Item.objects.get(pk=item.parent_id)
    if not role_allows(effective_role(user, parent), Perm.EDIT):
        raise InvalidToken(_("This user may not create files in this folder."))
    if suggested is not None:
        name = suggested.strip()
        if name.startswith("."):  # an extension only
            name = stem(item.title) + name
        title = free_title(parent, _sanitized(name))
    else:
        assert relative is not None
        try:
            title = clean_title(relative)
        except ValidationFailed as exc:
            valid = free_title(parent, _sanitized(relative))
            raise WopiError(exc.message, code="wopi_invalid_name", status=400,
                            headers={"X-WOPI-ValidRelativeTarget": utf7(valid)}) from None
        existing = _sibling_with_title(parent, title)
        if existing is not None:
            headers = {"X-WOPI-ValidRelativeTarget": utf7(free_title(parent, title))}
            if not overwrite or existing.type != ItemType.FILE:
                raise WopiError(_("A file with this name already exists here."),
                                code="wopi_target_exists", status=409, headers=headers)
            held = locks.current_lock(existing.pk)
            if held or dav_locked(existing.path):  # by an editing session, or a WebDAV client
                raise WopiError(_("The file to overwrite is locked."), code="wopi_target_locked",
                                status=409, headers={**headers, "X-WOPI-Lock": held})
    # Only an explicit overwrite may turn into a new version of an existing file: a name taken
    # by a concurrent request meanwhile is a conflict, never a silent overwrite.
    replacing = relative is not None and existing is not None
    if not replacing and dav_locked(parent.path):  # a folder a WebDAV client locked takes no new member
        raise WopiError(_("The folder is locked by a desktop client; try again once it is unlocked."),
                        code="wopi_folder_locked", status=409,
                        headers={"X-WOPI-Lock": "", "X-WOPI-LockFailureReason": locks.LOCKED_BY_DAV})
    created = _refuse_infected(file_write(actor=user, body=body, size=size, parent_id=parent.pk, title=title,
                                          create_only=not replacing))
    mode = Mode.EDIT if role_allows(getattr(created, "effective_role", None), Perm.EDIT) else Mode.VIEW
    token, expires_ms = tokens.issue(user=user, item_id=created.pk, mode=mode)
    return created, token, expires_ms


def rename(session: WopiSession, *, requested: str | None, lock_id: str | None) -> str:
    """RenameFile: ``requested`` is the new name without the extension (the file keeps its
    own; a name already ending with it is taken whole, as some editors send the full name).
    A locked file needs its lock id. A taken name becomes ``name (2)``, as the specification
    asks ("generate a different name"); an invalid one is a 400 with
    ``X-WOPI-InvalidFileNameError``. Returns the new name without the extension."""
    session.require_write()
    item = session.item
    locks.check_unlocked_or_held(item_id=item.pk, lock_id=lock_id)
    ext = extension(item.title)
    name = (requested or "").strip()
    title = name if ext and name.lower().endswith(ext.lower()) else name + ext
    try:
        if not name or not stem(title).strip():
            raise ValidationFailed(_("The title cannot be empty."), code="invalid_title")
        title = clean_title(title)
    except ValidationFailed as exc:
        raise WopiError(exc.message, code="wopi_invalid_name", status=400,
                        headers={"X-WOPI-InvalidFileNameError": _ascii(exc.message)}) from None
    item_update(actor=session.user, item_id=item.pk, title=title, on_conflict="rename",
                check_locks=False)  # the WOPI lock (and the DAV locks) checked above
    renamed = Item.objects.values_list("title", flat=True).get(pk=item.pk)
    return stem(renamed) if ext else renamed


# --- UTF-7 headers --------------------------------------------------------------------------------


def utf7(text: str) -> str:
    """A header value in UTF-7, as WOPI sends and expects file names."""
    return text.encode("utf-7").decode("ascii")


def from_utf7(raw: str | None) -> str | None:
    """A file name from a WOPI header: UTF-7 as the specification says; raw UTF-8 too (some
    clients send it), recognised by its non-ASCII bytes. Header values arrive as latin-1."""
    if raw is None:
        return None
    data = raw.encode("latin-1", errors="replace")
    try:
        return data.decode("utf-7") if data.isascii() else data.decode("utf-8")
    except UnicodeDecodeError:
        return raw


__all__ = [
    "COOL_DOC_CHANGED",
    "WopiSession",
    "changed_at",
    "current_version",
    "extension",
    "file_info",
    "from_utf7",
    "open_contents",
    "open_session",
    "put_file",
    "put_relative",
    "rename",
    "stem",
    "utf7",
    "item_version",
    "wopi_src",
    "wopi_time",
]
