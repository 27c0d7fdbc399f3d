"""Share links: secret URLs to a drive item (a file, or a folder and its subtree), usable
without an account, any number per item.

Managing links needs SHARE on the item (administrator and up). A link gives the *link role*
(reader: browse and download; editor, folders only: also upload into the folder) on its
item's subtree, and nothing else. Optional password (stored hashed with Django's hashers),
expiry and download limit. The token is shown once, at creation: only its SHA-256 is stored
(``token_hash``, looked up through its unique index) with a short prefix for display.

Using a link is two steps, so the password is typed once:

1. ``link_open(token, password)`` checks the link (unknown or revoked: 404; expired: 410;
   password missing or wrong: 401/403, wrong attempts rate-limited per link and IP; download
   limit reached: 410) and returns a short-lived *access* token signed with
   ``django.core.signing``, bound to the link and to a fingerprint of its password hash, so
   changing or clearing the password ends every open session of the link.
2. Every later call sends it (``X-Link-Access``); ``link_in_use`` checks the link again
   (revocation and expiry take effect at once) and the access token.

**Why a link visitor is not an "actor" of the item services.** The platform resolves roles
in SQL (``suite.access.resolve.EffectiveRole``) from grants to users and teams and from an
item's link reach; it has no notion of a right limited to one subtree, so no actor object
can make ``access_item`` answer "the link role, inside this subtree only" (an object looking
authenticated would borrow a real user's rights everywhere, an anonymous one gets only public
reach). Instead every call here first resolves the link and checks that the item is inside
the link's subtree (materialized path prefix) and not in the trash (:func:`link_item`), then:

- reads and downloads use the rows directly (``servable`` decides, fail closed);
- starting an upload composes the helpers ``file_create`` is made of (title rules, conflict
  policy, quota room, ``new_child``, ``start_version``) with no user attached: creator and
  uploader stay empty, since nobody with an account did it;
- ending an upload (and multipart part URLs) calls the upload service's trusted-input
  functions (``pending_upload_of``, ``part_urls_for``, ``end_upload``) after the subtree
  check: the checks themselves (size, quota under lock, type, scan) are never copied.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from drive_app.models import FileVersion, Item, ItemType, ShareLink, UploadState
from drive_app.permissions import access_item, servable
from drive_app.selectors.items import ordered
from drive_app.services import uploads
from drive_app.services.items import clean_title, resolve_title
from suite.access.resolve import parse_pk
from suite.access.roles import Perm, Role
from suite.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    SuiteError,
    ValidationFailed,
)
from suite.storage import PresignedRequest, UploadedPart, get_blob_store

TOKEN_BYTES = 32  # 256 bits of randomness: 43 URL-safe characters
TOKEN_PREFIX_LENGTH = 8
TOKEN_MAX_LENGTH = 128  # anything longer is not one of ours: no hashing, no query
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128  # hashing is deliberately slow: do not hash megabytes
#: Lifetime of an access token (seconds).
ACCESS_TTL = 3600
ACCESS_SALT = "drive.share-link.access"
#: Wrong passwords allowed per link and IP address in a window, then 429 until it ends.
PASSWORD_ATTEMPTS = 10
PASSWORD_WINDOW = 60  # seconds
LINK_ROLES = {Role.READER.slug: Role.READER, Role.EDITOR.slug: Role.EDITOR}
UPLOAD_POLICIES = ("error", "rename")  # never "version": a link visitor does not replace files

_UNSET: Any = object()


class LinkErrorCode(enum.StrEnum):
    NOT_FOUND = "link_not_found"
    EXPIRED = "link_expired"
    PASSWORD_REQUIRED = "link_password_required"  # noqa: S105 -- an error code
    PASSWORD_INVALID = "link_password_invalid"  # noqa: S105 -- an error code
    DOWNLOAD_LIMIT = "link_download_limit"
    ACCESS_REQUIRED = "link_access_required"
    ACCESS_INVALID = "link_access_invalid"
    ROLE_INVALID = "link_role_invalid"
    REVOKED = "link_revoked"


class LinkNotFound(SuiteError):
    """Unknown token, revoked link, or its item in the trash: all look the same."""

    code = LinkErrorCode.NOT_FOUND
    status = 404

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message or _("This link does not exist or was revoked."), **kwargs)


class LinkGone(SuiteError):
    """The link existed but can no longer be used (expired, download limit reached)."""

    status = 410


class LinkAccessDenied(SuiteError):
    status = 401


@dataclass(frozen=True)
class LinkAccess:
    """What opening a link gives: the link (its item loaded) and the access token to send
    as ``X-Link-Access``, valid until ``expires_at``."""

    link: ShareLink
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class CreatedLink:
    """A new link and its secret token (returned once, never stored)."""

    link: ShareLink
    token: str


# --- tokens -------------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    """The page a visitor opens (the web client's route for share links)."""
    return f"{settings.SUITE_PUBLIC_URL}/s/{token}"


def link_expired(link: ShareLink, *, now: dt.datetime | None = None) -> bool:
    return link.expires_at is not None and link.expires_at <= (now or timezone.now())


def downloads_exhausted(link: ShareLink) -> bool:
    return link.max_downloads is not None and link.download_count >= link.max_downloads


def _password_fingerprint(link: ShareLink) -> str:
    """Changes whenever the password is set, changed or cleared; reveals nothing of the hash
    (access tokens are signed, not encrypted)."""
    if not link.password_hash:
        return ""
    return salted_hmac("drive.share-link.password", link.password_hash).hexdigest()[:16]


def issue_access(link: ShareLink, *, ttl: int = ACCESS_TTL) -> tuple[str, dt.datetime]:
    """Sign an access token for ``link`` valid ``ttl`` seconds."""
    expires = int(time.time()) + ttl
    payload = {"l": str(link.pk), "p": _password_fingerprint(link), "x": expires}
    return signing.dumps(payload, salt=ACCESS_SALT, compress=False), dt.datetime.fromtimestamp(expires, tz=dt.UTC)


def _check_access(link: ShareLink, access: str | None) -> None:
    if not access:
        raise LinkAccessDenied(_("Open the link first and send its access token."),
                               code=LinkErrorCode.ACCESS_REQUIRED)
    invalid = LinkAccessDenied(_("This link access is invalid or has expired: open the link again."),
                               code=LinkErrorCode.ACCESS_INVALID)
    try:
        payload = signing.loads(access, salt=ACCESS_SALT)
    except (signing.BadSignature, ValueError):
        raise invalid from None
    if (
        not isinstance(payload, dict)
        or payload.get("l") != str(link.pk)
        or payload.get("p") != _password_fingerprint(link)
        or not isinstance(payload.get("x"), int)
        or time.time() >= payload["x"]
    ):
        raise invalid


# --- managing links (SHARE on the item) ------------------------------------------------------------------


def _parse_role(item: Item, role: Any) -> Role:
    parsed = LINK_ROLES.get(role) if isinstance(role, str) else None
    if parsed is None:
        raise ValidationFailed(_("A link's role is reader or editor."), code=LinkErrorCode.ROLE_INVALID,
                               status=422, details={"field": "role"})
    if parsed == Role.EDITOR and item.type != ItemType.FOLDER:
        raise ValidationFailed(_("Only a folder's link can let visitors upload (editor)."),
                               code=LinkErrorCode.ROLE_INVALID, status=422, details={"field": "role"})
    return parsed


def _password_hash(password: Any) -> str:
    """The hash to store for ``password`` (``None`` or ``""``: no password)."""
    if password is None or password == "":
        return ""
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationFailed(
            _("A link password has %(min)s to %(max)s characters.")
            % {"min": PASSWORD_MIN_LENGTH, "max": PASSWORD_MAX_LENGTH},
            details={"field": "password"},
        )
    return make_password(password)


def _expiry(expires_at: Any) -> dt.datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, dt.datetime) or timezone.is_naive(expires_at):
        raise ValidationFailed(_("expires_at must be a date and time with its time zone."),
                               details={"field": "expires_at"})
    if expires_at <= timezone.now():
        raise ValidationFailed(_("expires_at must be in the future."), details={"field": "expires_at"})
    return expires_at


def _max_downloads(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise ValidationFailed(_("max_downloads must be a whole number of at least 1."),
                               details={"field": "max_downloads"})
    return value


def link_create(
    *,
    actor: Any,
    item_id: Any,
    role: Any = Role.READER.slug,
    password: Any = None,
    expires_at: Any = None,
    max_downloads: Any = None,
) -> CreatedLink:
    """A new link to the item (SHARE needed). The token is in the result only."""
    item = access_item(actor, item_id, need=Perm.SHARE)
    link = ShareLink(
        item=item,
        role=_parse_role(item, role),
        password_hash=_password_hash(password),
        expires_at=_expiry(expires_at),
        max_downloads=_max_downloads(max_downloads),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link.token_hash = hash_token(token)
    link.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    link.save()
    return CreatedLink(link=link, token=token)


def links_of(*, actor: Any, item_id: Any) -> QuerySet[ShareLink]:
    """The item's links, newest first, revoked ones included (SHARE needed)."""
    item = access_item(actor, item_id, need=Perm.SHARE)
    return ShareLink.objects.filter(item=item).order_by("-created_at", "pk")


def _managed_link(actor: Any, item_id: Any, link_id: Any, *, lock: bool = False) -> ShareLink:
    item = access_item(actor, item_id, need=Perm.SHARE)
    pk = parse_pk(ShareLink, link_id)
    queryset = ShareLink.objects.select_for_update() if lock else ShareLink.objects.all()
    link = queryset.filter(item=item, pk=pk).first() if pk is not None else None
    if link is None:
        raise LinkNotFound(_("No such link on this item."))
    link.item = item
    return link


def link_update(
    *,
    actor: Any,
    item_id: Any,
    link_id: Any,
    role: Any = _UNSET,
    password: Any = _UNSET,
    expires_at: Any = _UNSET,
    max_downloads: Any = _UNSET,
) -> ShareLink:
    """Change a link: each argument left out stays as it is; ``None`` clears the password,
    the expiry or the download limit. A new or cleared password ends the link's open
    sessions (their access tokens carry the old password's fingerprint)."""
    with transaction.atomic():
        link = _managed_link(actor, item_id, link_id, lock=True)
        if link.revoked_at is not None:
            raise Conflict(_("This link was revoked; create a new one."), code=LinkErrorCode.REVOKED)
        fields = []
        if role is not _UNSET:
            link.role = _parse_role(link.item, role)
            fields.append("role")
        if password is not _UNSET:
            link.password_hash = _password_hash(password)
            fields.append("password_hash")
        if expires_at is not _UNSET:
            link.expires_at = _expiry(expires_at)
            fields.append("expires_at")
        if max_downloads is not _UNSET:
            link.max_downloads = _max_downloads(max_downloads)
            fields.append("max_downloads")
        if fields:
            link.save(update_fields=fields)
    return link


def link_revoke(*, actor: Any, item_id: Any, link_id: Any) -> None:
    """Stop a link at once (kept, marked revoked, for the record). Idempotent."""
    link = _managed_link(actor, item_id, link_id)
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- using a link (no account needed) ------------------------------------------------------------------


def _live_link(token: Any) -> ShareLink:
    """The link of ``token`` with its item, if it may still be used at all."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        raise LinkNotFound()
    link = ShareLink.objects.select_related("item").filter(token_hash=hash_token(token)).first()
    if link is None or link.revoked_at is not None or link.item.ancestors_deleted_at is not None:
        raise LinkNotFound()
    if link_expired(link):
        raise LinkGone(_("This link has expired."), code=LinkErrorCode.EXPIRED)
    return link


def _check_downloads_left(link: ShareLink) -> None:
    if downloads_exhausted(link):
        raise LinkGone(_("This link has reached its download limit."), code=LinkErrorCode.DOWNLOAD_LIMIT)


def _attempts_key(link: ShareLink, ip: str | None) -> str:
    return f"drive:link-password:{link.pk}:{ip or '-'}"


def _check_password(link: ShareLink, password: Any, ip: str | None) -> None:
    """Wrong passwords are counted per link and IP in a fixed window opened by the first
    failure; past the limit even the right one is refused until the window ends, so the
    answer tells a guesser nothing."""
    if not link.password_hash:
        return
    if password is None or password == "":
        raise LinkAccessDenied(_("This link is protected by a password."), code=LinkErrorCode.PASSWORD_REQUIRED)
    key = _attempts_key(link, ip)
    if (cache.get(key) or 0) >= PASSWORD_ATTEMPTS:
        raise RateLimited(headers={"Retry-After": str(PASSWORD_WINDOW)})
    if isinstance(password, str) and len(password) <= PASSWORD_MAX_LENGTH and check_password(
        password, link.password_hash
    ):
        return
    cache.add(key, 0, timeout=PASSWORD_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=PASSWORD_WINDOW)
    raise SuiteError(_("Wrong password for this link."), code=LinkErrorCode.PASSWORD_INVALID, status=403)


def link_open(*, token: Any, password: Any = None, ip: str | None = None) -> LinkAccess:
    """Check everything about the link, in this order: exists and not revoked (404), not
    expired (410), password (401 missing, 403 wrong, 429 too many wrong), downloads left
    (410). Returns an access token for the following calls."""
    link = _live_link(token)
    _check_password(link, password, ip)
    _check_downloads_left(link)
    access, expires_at = issue_access(link)
    return LinkAccess(link=link, token=access, expires_at=expires_at)


def link_in_use(*, token: Any, access: str | None) -> ShareLink:
    """The link of a call made after :func:`link_open`: still live (a revocation, an expiry,
    a new password or a used-up download limit take effect at once) and ``access`` valid."""
    link = _live_link(token)
    _check_access(link, access)
    _check_downloads_left(link)
    return link


def link_item(link: ShareLink, item_id: Any) -> Item:
    """``item_id`` if it is the link's item or inside its subtree, and not in the trash;
    else the same 404 whether it is missing or elsewhere. Paths are fixed-width segments, so
    a path prefix is exactly "in the subtree"."""
    pk = parse_pk(Item, item_id)
    item = (
        Item.objects.filter(pk=pk, path__startswith=link.item.path, ancestors_deleted_at__isnull=True).first()
        if pk is not None
        else None
    )
    if item is None:
        raise NotFound()
    return item


def link_children(folder: Item, ordering: str = "title") -> QuerySet[Item]:
    """A folder's live children (``folder`` comes from :func:`link_item`): folders first."""
    if folder.type != ItemType.FOLDER:
        raise ValidationFailed(_("Only folders have children."), code="not_a_folder")
    return ordered(Item.objects.filter(parent=folder, ancestors_deleted_at__isnull=True), ordering)


def link_download(*, link: ShareLink, item_id: Any, inline: bool = False) -> PresignedRequest:
    """A presigned GET of a ready file of the link, counted against its download limit.

    The count goes up with one conditional ``UPDATE`` (``download_count < max_downloads``),
    so parallel downloads can never exceed the limit; nothing is counted for a file that
    cannot be served."""
    item = link_item(link, item_id)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Folders cannot be downloaded through a link."), code="not_a_file")
    version = (
        FileVersion.objects.filter(pk=item.current_version_id, item=item, state=UploadState.READY).first()
        if servable(item)
        else None
    )
    if version is None:  # fail closed: only a version that passed every check is served
        raise Conflict(_("This file is not available: %(state)s.") % {"state": item.upload_state},
                       code="file_not_ready", details={"upload_state": item.upload_state})
    with transaction.atomic():
        counted = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).filter(
            Q(max_downloads__isnull=True) | Q(download_count__lt=F("max_downloads"))
        ).update(download_count=F("download_count") + 1)
        if not counted:
            raise LinkGone(_("This link has reached its download limit."), code=LinkErrorCode.DOWNLOAD_LIMIT)
        return get_blob_store().presigned_get(version.key, filename=item.title, content_type=version.mimetype,
                                              inline=inline)


# --- uploads through an editor link --------------------------------------------------------------------


def _require_upload(link: ShareLink) -> None:
    if link.role < Role.EDITOR or link.item.type != ItemType.FOLDER:
        raise PermissionDenied(_("This link does not allow uploads."))


def _upload_target(link: ShareLink, item_id: Any) -> Item:
    """A file of the link's subtree to finish uploading (the subtree check stands for the
    role check: see the module docstring)."""
    _require_upload(link)
    item = link_item(link, item_id)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Only files are uploaded."), code="not_a_file")
    return item


def link_file_create(
    *,
    link: ShareLink,
    title: Any,
    size: Any,
    content_type: Any = None,
    sha256: Any = None,
    parent_id: Any = None,
    on_conflict: str = "error",
) -> uploads.UploadStart:
    """Start uploading a new file into the link's folder (or a folder of its subtree), as
    ``file_create`` does but with no user attached; charged to the folder's quota owner."""
    _require_upload(link)
    if on_conflict not in UPLOAD_POLICIES:
        raise ValidationFailed(
            _("on_conflict must be one of: %(choices)s.") % {"choices": ", ".join(UPLOAD_POLICIES)},
            details={"field": "on_conflict"},
        )
    title = clean_title(title)
    size, content_type, sha = uploads.validate_declared(size, content_type, sha256)
    visitor = AnonymousUser()
    with transaction.atomic():
        parent = link.item if parent_id is None else link_item(link, parent_id)
        if parent.type != ItemType.FOLDER:
            raise ValidationFailed(_("The parent must be a folder."), code="parent_not_folder",
                                   details={"field": "parent"})
        title = resolve_title(parent, title, on_conflict)
        return uploads.new_file(parent, actor=visitor, title=title, size=size, content_type=content_type, sha=sha)


def link_multipart_part_urls(
    *, link: ShareLink, item_id: Any, part_numbers: list[int]
) -> list[tuple[int, PresignedRequest]]:
    """Presigned part URLs of a large file started through the link."""
    item = _upload_target(link, item_id)
    version = uploads.multipart_version(uploads.pending_upload_of(item))
    return uploads.part_urls_for(version, part_numbers)


def link_upload_ended(*, link: ShareLink, item_id: Any, parts: list[UploadedPart] | None = None) -> Item:
    """The visitor's bytes are in S3: the upload service checks and accepts them (or raises
    why not), exactly as for an account holder."""
    item = _upload_target(link, item_id)
    return uploads.end_upload(item, parts=parts)


__all__ = [
    "ACCESS_TTL",
    "CreatedLink",
    "LinkAccess",
    "LinkErrorCode",
    "downloads_exhausted",
    "hash_token",
    "issue_access",
    "link_children",
    "link_create",
    "link_download",
    "link_expired",
    "link_file_create",
    "link_in_use",
    "link_item",
    "link_multipart_part_urls",
    "link_open",
    "link_revoke",
    "link_update",
    "link_upload_ended",
    "link_url",
    "links_of",
]
