"""Share links of drive items.

``router`` (mounted under ``/api/v1/drive/items``): an item's links, managed by its
administrators and owners: create (the secret token is in that answer only), list, change,
revoke.

``public_router`` (mounted under ``/api/v1/drive/links``): what a visitor does with a link,
with or without an account (``OptionalAuth`` on purpose): ``POST /{token}/`` opens the link
(password if any) and answers with the item and an access token; every other call sends that
token as ``X-Link-Access`` and stays inside the link's subtree.
"""

# No ``from __future__ import annotations``: ninja resolves the handlers' annotations.

from django.http import HttpRequest
from ninja import Header, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from drive_app.schemas.items import PartUrlOut, PartUrlsIn, UploadEndedIn
from drive_app.schemas.links import (
    LinkCreatedOut,
    LinkCreateIn,
    LinkFileCreateIn,
    LinkItemOut,
    LinkOpenIn,
    LinkOpenOut,
    LinkOut,
    LinkUpdateIn,
    link_item_out,
    link_out,
)
from drive_app.selectors.items import Ordering
from drive_app.services import links as services
from suite.identity.audit import client_ip
from suite.identity.auth import OptionalAuth, actor
from suite.openapi import error_statuses
from suite.pagination import Serialized
from suite.storage import UploadedPart
from suite.storage.responses import blob_response

router = Router()
public_router = Router(auth=OptionalAuth(), tags=["drive links"])

ACCESS_HEADER = "X-Link-Access"


# --- managing an item's links ------------------------------------------------------------------------


@router.post("/{item_id}/links/", response={201: LinkCreatedOut}, summary="Create a share link")
def link_create(request: HttpRequest, item_id: str, payload: LinkCreateIn):
    created = services.link_create(actor=actor(request), item_id=item_id, **payload.dict())
    return Status(201, link_out(created.link, token=created.token, url=services.link_url(created.token)))


@router.get("/{item_id}/links/", response=list[LinkOut], summary="An item's share links (no secrets)")
@paginate
def link_list(request: HttpRequest, item_id: str):
    return Serialized(services.links_of(actor=actor(request), item_id=item_id), link_out)


@router.patch("/{item_id}/links/{link_id}/", response=LinkOut,
              summary="Change a link's role, password, expiry or download limit")
@error_statuses(409)
def link_update(request: HttpRequest, item_id: str, link_id: str, payload: LinkUpdateIn):
    link = services.link_update(actor=actor(request), item_id=item_id, link_id=link_id,
                                **payload.dict(exclude_unset=True))
    return link_out(link)


@router.delete("/{item_id}/links/{link_id}/", response={204: None}, summary="Revoke a link (at once)")
def link_revoke(request: HttpRequest, item_id: str, link_id: str):
    services.link_revoke(actor=actor(request), item_id=item_id, link_id=link_id)
    return Status(204, None)


# --- using a link ----------------------------------------------------------------------------------------


class LinkChildrenFilters(Schema):
    ordering: Ordering = "title"


@public_router.post("/{token}/", response=LinkOpenOut, summary="Open a share link (password if any)")
@error_statuses(401, 403, 410)
def link_open(request: HttpRequest, token: str, payload: LinkOpenIn | None = None):
    password = payload.password if payload is not None else None
    opened = services.link_open(token=token, password=password, ip=client_ip(request))
    return {"item": link_item_out(opened.link.item, opened.link), "access": opened.token,
            "access_expires_at": opened.expires_at}


@public_router.get("/{token}/items/{item_id}/", response=LinkItemOut, summary="An item of a share link")
@error_statuses(401, 410)
def link_item(request: HttpRequest, token: str, item_id: str,
              access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    return link_item_out(services.link_item(link, item_id), link)


@public_router.get("/{token}/items/{item_id}/children/", response=list[LinkItemOut],
                   summary="A folder's children, through a share link")
@paginate
@error_statuses(401, 410)
def link_children(request: HttpRequest, token: str, item_id: str, filters: Query[LinkChildrenFilters],
                  access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    folder = services.link_item(link, item_id)
    return Serialized(services.link_children(folder, filters.ordering), lambda item: link_item_out(item, link))


@public_router.get("/{token}/items/{item_id}/download/", response={200: None, 206: None},
                   summary="Download a file of a share link (streamed; counted against its limit)")
@error_statuses(401, 409, 410, 416, 503)
def link_download(request: HttpRequest, token: str, item_id: str, inline: bool = False,
                  access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    download = services.link_download(link=link, item_id=item_id, inline=inline,
                                      range_header=request.headers.get("Range"),
                                      if_range=request.headers.get("If-Range"))
    return blob_response(request, download.reader, filename=download.filename,
                         content_type=download.content_type, inline=download.inline, etag=download.etag,
                         accept_ranges=download.ranges_allowed)


@public_router.post("/{token}/items/", response={201: LinkItemOut},
                    summary="Upload a file into a share link's folder (editor links)")
@error_statuses(401, 409, 410, 413, 423, 503, 507)
def link_file_create(request: HttpRequest, token: str, payload: LinkFileCreateIn,
                     access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    start = services.link_file_create(
        link=link, title=payload.title, size=payload.size, content_type=payload.content_type,
        sha256=payload.sha256, parent_id=payload.parent, on_conflict=payload.on_conflict,
    )
    multipart = (start.version.part_size or 0, start.part_count) if start.part_count else None
    return Status(201, link_item_out(start.item, link, upload=start.upload, multipart=multipart))


@public_router.post("/{token}/items/{item_id}/multipart/parts/", response=list[PartUrlOut],
                    summary="Presigned part URLs of a large upload (editor links)")
@error_statuses(401, 409, 410, 503)
def link_multipart_part_urls(request: HttpRequest, token: str, item_id: str, payload: PartUrlsIn,
                             access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    urls = services.link_multipart_part_urls(link=link, item_id=item_id, part_numbers=payload.parts)
    return [{"number": n, "url": u.url, "method": u.method, "headers": u.headers, "expires_at": u.expires_at}
            for n, u in urls]


@public_router.post("/{token}/items/{item_id}/upload-ended/", response=LinkItemOut,
                    summary="The bytes are in S3: check and accept them (editor links)")
@error_statuses(401, 409, 410, 413, 423, 503, 507)
def link_upload_ended(request: HttpRequest, token: str, item_id: str, payload: UploadEndedIn | None = None,
                      access: str | None = Header(None, alias=ACCESS_HEADER)):
    link = services.link_in_use(token=token, access=access)
    parts = None
    if payload is not None and payload.parts is not None:
        parts = [UploadedPart(number=p.number, etag=p.etag.strip('"'), size=0) for p in payload.parts]
    item = services.link_upload_ended(link=link, item_id=item_id, parts=parts)
    return link_item_out(item, link)


__all__ = ["public_router", "router"]
