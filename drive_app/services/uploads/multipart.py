"""Large uploads in parts (S3 multipart): part URLs, the parts already held (to resume),
abort, and the completeness check before assembling."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from drive_app.models import FileVersion, Item
from drive_app.services.uploads.pending import forget_pending, pending_version
from suite.errors import Conflict, ValidationFailed
from suite.storage import BlobUploadNotFound, PresignedRequest, UploadedPart, get_blob_store


def _multipart(actor: Any, item_id: Any) -> tuple[Item, FileVersion]:
    item, version = pending_version(actor, item_id)
    return item, multipart_version(version)


def multipart_version(version: FileVersion) -> FileVersion:
    if not version.multipart_upload_id:
        raise Conflict(_("This upload is a single PUT, not a multipart upload."), code="not_multipart")
    return version


def multipart_part_urls(*, actor: Any, item_id: Any, part_numbers: list[int]) -> tuple[FileVersion, list[tuple[int, PresignedRequest]]]:
    """Presigned URLs for the given parts (each part's length is signed: all parts are
    ``part_size`` long but the last)."""
    _item, version = _multipart(actor, item_id)
    return version, part_urls_for(version, part_numbers)


def part_urls_for(version: FileVersion, part_numbers: list[int]) -> list[tuple[int, PresignedRequest]]:
    """Presigned URLs for parts of a multipart ``version`` (the caller checked access)."""
    assert version.part_size is not None
    count = math.ceil(version.declared_size / version.part_size)
    if not part_numbers or len(part_numbers) > 1000:
        raise ValidationFailed(_("Ask for 1 to 1000 parts at a time."), details={"field": "parts"})
    urls = []
    store = get_blob_store()
    for number in part_numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
            raise ValidationFailed(
                _("Part numbers go from 1 to %(count)s.") % {"count": count},
                code="part_out_of_range", details={"field": "parts", "part": number, "part_count": count},
            )
        urls.append((number, store.multipart_part_url(version.key, version.multipart_upload_id, number,
                                                      size=_part_length(version, number, count))))
    return urls


def _part_length(version: FileVersion, number: int, count: int) -> int:
    assert version.part_size is not None
    return version.part_size if number < count else version.declared_size - version.part_size * (count - 1)


def multipart_parts(*, actor: Any, item_id: Any) -> tuple[FileVersion, list[UploadedPart]]:
    """The parts S3 already holds: what a client resuming after a disconnect skips."""
    _item, version = _multipart(actor, item_id)
    try:
        parts = get_blob_store().multipart_list_parts(version.key, version.multipart_upload_id)
    except BlobUploadNotFound:
        raise Conflict(_("This upload no longer exists; start a new one."), code="upload_gone") from None
    return version, parts


def multipart_abort(*, actor: Any, item_id: Any) -> None:
    """Give up a multipart upload: S3 drops its parts; a brand-new file disappears."""
    with transaction.atomic():
        item, version = _multipart(actor, item_id)
        forget_pending(item, version)


def check_parts_complete(item: Item, version: FileVersion, parts: list[UploadedPart] | None) -> None:
    """Every part of the declared size must be in S3 (at its expected length) before the
    upload is assembled; otherwise 422 ``upload_incomplete`` naming the missing parts, and the
    upload stays open so the client can send them."""
    assert version.part_size is not None
    count = math.ceil(version.declared_size / version.part_size) or 1
    try:
        held = {p.number: p for p in get_blob_store().multipart_list_parts(version.key, version.multipart_upload_id)}
    except BlobUploadNotFound:
        return  # completed by an earlier call whose answer was lost, or aborted: the object decides
    wanted = {p.number for p in parts} if parts is not None else set(range(1, count + 1))
    missing = []
    for number in range(1, count + 1):
        part = held.get(number)
        if number not in wanted or part is None or part.size != _part_length(version, number, count):
            missing.append(number)
    extra = sorted(n for n in wanted if n > count or n < 1)
    if missing or extra:
        raise ValidationFailed(
            _("The upload is not complete: %(count)s part(s) missing or of the wrong size.") % {"count": len(missing)},
            code="upload_incomplete",
            details={"item": str(item.pk), "missing_parts": missing[:100], "unexpected_parts": extra[:100],
                     "part_count": count},
        )
