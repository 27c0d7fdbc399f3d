"""Downloads through a share link: the one place a link visitor gets a file's bytes.

They are streamed through the server, never handed out as a presigned URL: such a URL can
be fetched any number of times until it expires, and stays valid after the link is revoked
or its password changed, so neither a download limit nor a revocation would hold. Streamed,
every transfer is a request that :func:`~drive_app.services.links.use.link_in_use` checked
(revocation, expiry, password, access token) and, when it starts at the file's first byte,
a download counted against the limit by one conditional ``UPDATE`` (two parallel requests
for the last download: one gets the file, the other a 410).

A download is counted once the store has answered with the bytes, just before the response
starts: a request the store cannot serve costs nothing; one the client abandons midway
counts. Range requests (resuming, seeking in a video) are honoured on links without a
download limit and counted only from byte 0; a link with a limit ignores ``Range`` and
serves the whole file each time, since a range served for free would let a visitor fetch
the file in pieces past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app.models import FileVersion, ItemType, ShareLink, UploadState
from drive_app.permissions import not_ready, servable
from drive_app.services.links.tokens import LinkErrorCode, LinkGone, LinkNotFound
from drive_app.services.links.use import link_item
from suite.errors import ValidationFailed
from suite.storage import BlobReader, get_blob_store
from suite.storage.responses import requested_range


@dataclass(frozen=True)
class LinkDownload:
    """An opened file of a link, ready to stream (the caller must send or close ``reader``).
    ``etag`` names the version served (quoted, strong), for ``If-Range``."""

    reader: BlobReader
    filename: str
    content_type: str
    inline: bool
    etag: str
    ranges_allowed: bool


def link_download(
    *,
    link: ShareLink,
    item_id: Any,
    inline: bool = False,
    range_header: str | None = None,
    if_range: str | None = None,
) -> LinkDownload:
    """Open the current ready version of a file of the link (``link`` from ``link_in_use``)
    and count the download (see the module docstring). Raises 410 ``link_download_limit``
    when the limit was reached meanwhile, 404 when the link was revoked meanwhile, 409
    ``file_not_ready``, 416 for a range past the end (links without a limit)."""
    item = link_item(link, item_id)
    if item.type != ItemType.FILE:
        raise ValidationFailed(_("Folders cannot be downloaded through a link."), code="not_a_file")
    version = (
        FileVersion.objects.filter(pk=item.current_version_id, item=item, state=UploadState.READY).first()
        if servable(item)
        else None
    )
    if version is None:  # fail closed: only a version that passed every check is served
        raise not_ready(item)
    etag = f'"{version.pk.hex}"'
    size = version.size or 0
    ranges_allowed = link.max_downloads is None
    byte_range = (
        requested_range(range_header, size=size, etag=etag, if_range=if_range) if ranges_allowed else None
    )
    reader = get_blob_store().open(version.key, range=byte_range)
    if byte_range is None or byte_range[0] == 0:
        try:
            _count(link)
        except BaseException:
            reader.close()
            raise
    return LinkDownload(reader=reader, filename=item.title, content_type=version.mimetype,
                        inline=inline, etag=etag, ranges_allowed=ranges_allowed)


def _count(link: ShareLink) -> None:
    """One more download, if the link still allows it at this very moment: the row's own
    values decide, not the ``link`` read earlier in the request."""
    counted = (
        ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .filter(Q(max_downloads__isnull=True) | Q(download_count__lt=F("max_downloads")))
        .update(download_count=F("download_count") + 1)
    )
    if counted:
        return
    current = ShareLink.objects.filter(pk=link.pk).values("revoked_at", "expires_at").first()
    if current is None or current["revoked_at"] is not None:
        raise LinkNotFound()
    if current["expires_at"] is not None and current["expires_at"] <= timezone.now():
        raise LinkGone(_("This link has expired."), code=LinkErrorCode.EXPIRED)
    raise LinkGone(_("This link has reached its download limit."), code=LinkErrorCode.DOWNLOAD_LIMIT)
