"""Using a share link, with no account: open it (password), browse its subtree, and upload
into a folder through an editor link (downloads: :mod:`.downloads`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import FileVersion, Item, ItemType, ShareLink, UploadState
from drive_app.selectors.items import ordered
from drive_app.services import uploads
from drive_app.services.items import clean_title, resolve_title
from drive_app.services.links.tokens import (
    PASSWORD_ATTEMPTS,
    PASSWORD_MAX_LENGTH,
    PASSWORD_WINDOW,
    TOKEN_MAX_LENGTH,
    UPLOAD_POLICIES,
    LinkAccess,
    LinkAccessDenied,
    LinkErrorCode,
    LinkGone,
    LinkNotFound,
    _check_access,
    downloads_exhausted,
    hash_token,
    issue_access,
    link_expired,
)
from suite.access.resolve import parse_pk
from suite.access.roles import Role
from suite.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    SuiteError,
    ValidationFailed,
)
from suite.storage import PresignedRequest, UploadedPart

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
        raise LinkGone(
            _("This link has reached its download limit."), code=LinkErrorCode.DOWNLOAD_LIMIT
        )


def _attempts_key(link: ShareLink, ip: str | None) -> str:
    return f"drive:link-password:{link.pk}:{ip or '-'}"


def _check_password(link: ShareLink, password: Any, ip: str | None) -> None:
    """Wrong passwords are counted per link and IP in a fixed window opened by the first
    failure; past the limit even the right one is refused until the window ends, so the
    answer tells a guesser nothing."""
    if not link.password_hash:
        return
    if password is None or password == "":
        raise LinkAccessDenied(
            _("This link is protected by a password."), code=LinkErrorCode.PASSWORD_REQUIRED
        )
    key = _attempts_key(link, ip)
    if (cache.get(key) or 0) >= PASSWORD_ATTEMPTS:
        raise RateLimited(headers={"Retry-After": str(PASSWORD_WINDOW)})
    if (
        isinstance(password, str)
        and len(password) <= PASSWORD_MAX_LENGTH
        and check_password(password, link.password_hash)
    ):
        return
    cache.add(key, 0, timeout=PASSWORD_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=PASSWORD_WINDOW)
    raise SuiteError(
        _("Wrong password for this link."), code=LinkErrorCode.PASSWORD_INVALID, status=403
    )


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
        Item.objects.filter(
            pk=pk, path__startswith=link.item.path, ancestors_deleted_at__isnull=True
        ).first()
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


# --- uploads through an editor link --------------------------------------------------------------------


def _require_upload(link: ShareLink) -> None:
    if link.role < Role.EDITOR or link.item.type != ItemType.FOLDER:
        raise PermissionDenied(_("This link does not allow uploads."))


def _upload_target(link: ShareLink, item_id: Any) -> tuple[Item, FileVersion]:
    """A file of the link's subtree (the subtree check stands for the role check: see the
    module docstring) and its newest upload started through this very link: a visitor never
    sends the parts of, or ends, an upload someone else started (that would replace a file)."""
    _require_upload(link)
    item = link_item(link, item_id)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Only files are uploaded."), code="not_a_file")
    version = (
        FileVersion.objects.filter(item=item, state=UploadState.PENDING, via_link=link).order_by("-number").first()
    )
    if version is None:
        raise Conflict(_("No upload is waiting for bytes on this item."), code="no_pending_upload")
    return item, version


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
    with quota.figures_hidden(), transaction.atomic():
        parent = link.item if parent_id is None else link_item(link, parent_id)
        if parent.type != ItemType.FOLDER:
            raise ValidationFailed(
                _("The parent must be a folder."),
                code="parent_not_folder",
                details={"field": "parent"},
            )
        title = resolve_title(parent, title, on_conflict)
        return uploads.new_file(
            parent, actor=visitor, title=title, size=size, content_type=content_type, sha=sha, via_link=link
        )


def link_multipart_part_urls(
    *, link: ShareLink, item_id: Any, part_numbers: list[int]
) -> list[tuple[int, PresignedRequest]]:
    """Presigned part URLs of a large file started through the link."""
    _item, version = _upload_target(link, item_id)
    return uploads.part_urls_for(uploads.multipart_version(version), part_numbers)


def link_upload_ended(
    *, link: ShareLink, item_id: Any, parts: list[UploadedPart] | None = None
) -> Item:
    """The visitor's bytes are in S3: the upload service checks and accepts them (or raises
    why not), exactly as for an account holder."""
    item, version = _upload_target(link, item_id)
    with quota.figures_hidden():  # the owner's usage is not the visitor's business
        return uploads.end_upload(item, version, parts=parts)
