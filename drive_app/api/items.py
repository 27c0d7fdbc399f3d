"""Drive item endpoints: create (folders, and files with where to upload their bytes), read,
list, rename, move, copy, trash, restore, destroy, favorites, uploads (single PUT and
multipart), versions, downloads and usage.

``collection_router`` holds static paths and is mounted before ``item_router``
(``/{item_id}...``). Ids in paths are strings: a malformed one is the same 404 as a missing one.
"""

# No ``from __future__ import annotations``: ninja resolves the handlers' annotations.

from django.db.models import Sum
from django.http import HttpRequest, HttpResponseRedirect
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from drive_app import quota
from drive_app.models import FileVersion, UploadState
from drive_app.permissions import access_item
from drive_app.schemas.items import (
    FileVersionIn,
    FileVersionOut,
    ItemCopyIn,
    ItemCreateIn,
    ItemMoveIn,
    ItemOut,
    ItemUpdateIn,
    PartsOut,
    PartUrlOut,
    PartUrlsIn,
    UploadEndedIn,
    UsageOut,
    item_out,
)
from drive_app.selectors import items as selectors
from drive_app.services import items as services
from drive_app.services import uploads
from suite.access.roles import Perm
from suite.identity.auth import actor
from suite.openapi import error_statuses
from suite.pagination import Serialized
from suite.storage import UploadedPart

collection_router = Router()
item_router = Router()


class ListFilters(Schema):
    q: str | None = Field(None, max_length=256, description="Search titles (accents and case ignored).")
    ordering: selectors.Ordering = "title"


class ChildrenFilters(Schema):
    ordering: selectors.Ordering = "title"


def _detail(request: HttpRequest, item_id) -> dict:  # type: ignore[no-untyped-def]
    who = actor(request)
    item = access_item(who, item_id)
    return item_out(selectors.item_detail(who, item), who)


def _page(request: HttpRequest, queryset) -> Serialized:  # type: ignore[no-untyped-def]
    who = actor(request)
    return Serialized(queryset, lambda item: item_out(item, who))


# --- collection -------------------------------------------------------------------------------------


@collection_router.get("/", response=list[ItemOut], summary="My drive: workspace and shared roots, or a search")
@paginate
def item_list(request: HttpRequest, filters: Query[ListFilters]):
    who = actor(request)
    services.workspace_for(who)
    if filters.q:
        return _page(request, selectors.item_search(who, filters.q, filters.ordering))
    return _page(request, selectors.item_roots(who, filters.ordering))


@collection_router.post("/", response={201: ItemOut}, summary="Create a folder, or a file to upload")
@error_statuses(409, 413, 423, 503, 507)
def item_create(request: HttpRequest, payload: ItemCreateIn):
    who = actor(request)
    if payload.type == "folder":
        on_conflict = "error" if payload.on_conflict == "version" else payload.on_conflict
        folder = services.folder_create(actor=who, title=payload.title, parent_id=payload.parent,
                                        on_conflict=on_conflict)
        return Status(201, item_out(selectors.item_detail(who, folder), who))
    start = uploads.file_create(
        actor=who, title=payload.title, parent_id=payload.parent, size=payload.size,
        content_type=payload.content_type, sha256=payload.sha256, on_conflict=payload.on_conflict,
    )
    multipart = (start.version.part_size or 0, start.part_count) if start.part_count else None
    return Status(201, item_out(start.item, who, upload=start.upload,
                                multipart=multipart))


@collection_router.get("/trash/", response=list[ItemOut], summary="Items in the trash I may restore")
@paginate
def item_trash_list(request: HttpRequest):
    return _page(request, selectors.item_trash(actor(request)))


@collection_router.get("/favorites/", response=list[ItemOut], summary="My favorite items")
@paginate
def item_favorites(request: HttpRequest):
    return _page(request, selectors.item_favorites(actor(request)))


@collection_router.get("/recent/", response=list[ItemOut], summary="Items I opened recently")
@paginate
def item_recent(request: HttpRequest):
    return _page(request, selectors.item_recent(actor(request)))


# --- one item ----------------------------------------------------------------------------------------


@item_router.get("/{item_id}/", response=ItemOut, summary="An item")
def item_retrieve(request: HttpRequest, item_id: str):
    return _detail(request, item_id)


@item_router.patch("/{item_id}/", response=ItemOut, summary="Rename an item, or change its link reach and role")
@error_statuses(409, 423)
def item_update(request: HttpRequest, item_id: str, payload: ItemUpdateIn):
    services.item_update(actor=actor(request), item_id=item_id, title=payload.title,
                         on_conflict=payload.on_conflict, link_reach=payload.link_reach,
                         link_role=payload.link_role, request=request)
    return _detail(request, item_id)


@item_router.delete("/{item_id}/", response={204: None}, summary="Move to the trash, or delete for good (?hard=true)")
@error_statuses(409, 423, 503)
def item_delete(request: HttpRequest, item_id: str, hard: bool = False):
    if hard:
        services.item_destroy(actor=actor(request), item_id=item_id)
    else:
        services.item_trash(actor=actor(request), item_id=item_id)
    return Status(204, None)


@item_router.get("/{item_id}/children/", response=list[ItemOut], summary="A folder's children")
@paginate
def item_children(request: HttpRequest, item_id: str, filters: Query[ChildrenFilters]):
    who = actor(request)
    folder = access_item(who, item_id)
    return _page(request, selectors.item_children(who, folder, filters.ordering))


@item_router.post("/{item_id}/restore/", response=ItemOut, summary="Restore from the trash")
@error_statuses(409, 507)
def item_restore(request: HttpRequest, item_id: str):
    item = services.item_restore(actor=actor(request), item_id=item_id)
    return _detail(request, item.pk)


@item_router.post("/{item_id}/move/", response=ItemOut, summary="Move into another folder")
@error_statuses(409, 423)
def item_move(request: HttpRequest, item_id: str, payload: ItemMoveIn):
    item = services.item_move(actor=actor(request), item_id=item_id, parent_id=payload.parent,
                              on_conflict=payload.on_conflict)
    return _detail(request, item.pk)


@item_router.post("/{item_id}/copy/", response={201: ItemOut}, summary="Copy into a folder")
@error_statuses(409, 423, 503, 507)
def item_copy(request: HttpRequest, item_id: str, payload: ItemCopyIn):
    copy = services.item_copy(actor=actor(request), item_id=item_id, parent_id=payload.parent,
                              on_conflict=payload.on_conflict)
    return Status(201, _detail(request, copy.pk))


@item_router.post("/{item_id}/favorite/", response={201: ItemOut}, summary="Add to my favorites")
def favorite_add(request: HttpRequest, item_id: str):
    services.favorite_add(actor=actor(request), item_id=item_id)
    return Status(201, _detail(request, item_id))


@item_router.delete("/{item_id}/favorite/", response={204: None}, summary="Remove from my favorites")
def favorite_remove(request: HttpRequest, item_id: str):
    services.favorite_remove(actor=actor(request), item_id=item_id)
    return Status(204, None)


# --- uploads -----------------------------------------------------------------------------------------------


@item_router.post("/{item_id}/upload-ended/", response=ItemOut, summary="The bytes are in S3: check and accept them")
@error_statuses(409, 413, 423, 503, 507)
def upload_ended(request: HttpRequest, item_id: str, payload: UploadEndedIn | None = None):
    parts = None
    if payload is not None and payload.parts is not None:
        parts = [UploadedPart(number=p.number, etag=p.etag.strip('"'), size=0) for p in payload.parts]
    who = actor(request)
    return item_out(uploads.upload_ended(actor=who, item_id=item_id, parts=parts), who)


@item_router.post("/{item_id}/multipart/parts/", response=list[PartUrlOut], summary="Presigned URLs for parts")
@error_statuses(409, 503)
def multipart_part_urls(request: HttpRequest, item_id: str, payload: PartUrlsIn):
    _version, urls = uploads.multipart_part_urls(actor=actor(request), item_id=item_id, part_numbers=payload.parts)
    return [{"number": n, "url": u.url, "method": u.method, "headers": u.headers, "expires_at": u.expires_at}
            for n, u in urls]


@item_router.get("/{item_id}/multipart/", response=PartsOut, summary="The parts already uploaded (to resume)")
@error_statuses(409, 503)
def multipart_parts(request: HttpRequest, item_id: str):
    version, parts = uploads.multipart_parts(actor=actor(request), item_id=item_id)
    assert version.part_size is not None
    count = -(-version.declared_size // version.part_size)
    return {"part_size": version.part_size, "part_count": count,
            "parts": [{"number": p.number, "etag": p.etag, "size": p.size} for p in parts]}


@item_router.delete("/{item_id}/multipart/", response={204: None}, summary="Abort a multipart upload")
@error_statuses(409, 503)
def multipart_abort(request: HttpRequest, item_id: str):
    uploads.multipart_abort(actor=actor(request), item_id=item_id)
    return Status(204, None)


# --- versions and downloads ------------------------------------------------------------------------------


def _version_out(version: FileVersion, current_id) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": version.pk, "number": version.number, "state": version.state, "size": version.size,
        "mimetype": version.mimetype, "sha256": version.sha256, "current": version.pk == current_id,
        "uploaded_by": version.uploaded_by_id, "created_at": version.created_at,
        "uploaded_at": version.uploaded_at,
    }


@item_router.get("/{item_id}/versions/", response=list[FileVersionOut], summary="A file's versions, newest first")
@paginate
def version_list(request: HttpRequest, item_id: str):
    item = access_item(actor(request), item_id)
    queryset = FileVersion.objects.filter(item=item).order_by("-number")
    return Serialized(queryset, lambda v: _version_out(v, item.current_version_id))


@item_router.post("/{item_id}/versions/", response={201: ItemOut}, summary="Upload a new version")
@error_statuses(409, 413, 423, 503, 507)
def version_create(request: HttpRequest, item_id: str, payload: FileVersionIn):
    who = actor(request)
    start = uploads.version_create(actor=who, item_id=item_id, size=payload.size,
                                   content_type=payload.content_type, sha256=payload.sha256)
    multipart = (start.version.part_size or 0, start.part_count) if start.part_count else None
    return Status(201, item_out(start.item, who, upload=start.upload,
                                multipart=multipart))


@item_router.post("/{item_id}/versions/{version_id}/restore/", response=ItemOut,
                  summary="Make a version current again (as a new version)")
@error_statuses(409, 423, 503, 507)
def version_restore(request: HttpRequest, item_id: str, version_id: str):
    uploads.version_restore(actor=actor(request), item_id=item_id, version_id=version_id)
    return _detail(request, item_id)


@item_router.delete("/{item_id}/versions/{version_id}/", response={204: None}, summary="Delete a version")
@error_statuses(409, 423, 503)
def version_delete(request: HttpRequest, item_id: str, version_id: str):
    uploads.version_delete(actor=actor(request), item_id=item_id, version_id=version_id)
    return Status(204, None)


@item_router.get("/{item_id}/versions/{version_id}/download/", response={302: None},
                 summary="Download a version (redirect to a presigned URL)")
@error_statuses(409, 503)
def version_download(request: HttpRequest, item_id: str, version_id: str):
    url = uploads.download_url(actor=actor(request), item_id=item_id, version_id=version_id)
    return HttpResponseRedirect(url.url)


@item_router.get("/{item_id}/download/", response={302: None},
                 summary="Download the current version (redirect to a presigned URL)")
@error_statuses(409, 503)
def download(request: HttpRequest, item_id: str, inline: bool = False):
    url = uploads.download_url(actor=actor(request), item_id=item_id, inline=inline)
    return HttpResponseRedirect(url.url)


# --- usage -----------------------------------------------------------------------------------------------------

usage_router = Router()


@usage_router.get("/usage/", response=UsageOut, summary="My storage: used, quota and use by type")
def usage(request: HttpRequest):
    who = actor(request)
    current = quota.usage_of(who.pk)
    limit = quota.limit_of(current)
    rows = (
        FileVersion.objects.filter(item__quota_owner=who, charged_bytes__gt=0)
        .exclude(state=UploadState.REJECTED)
        .values("mimetype")
        .annotate(total=Sum("charged_bytes"))
    )
    by_type: dict[str, int] = {}
    for row in rows:
        family = (row["mimetype"] or "application/octet-stream").split("/")[0]
        by_type[family] = by_type.get(family, 0) + int(row["total"] or 0)
    return {"used_bytes": current.used_bytes, "quota_bytes": limit,
            "available_bytes": max(0, limit - current.used_bytes), "by_type": by_type}


__all__ = ["Perm", "collection_router", "item_router", "usage_router"]
