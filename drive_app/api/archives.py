"""Reading a folder as a ZIP archive (streamed: never whole in memory or on disk, with its
exact ``Content-Length`` up front) and a file's cached preview."""

from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Router

from drive_app import zipper
from drive_app.models import Item, ItemType, UploadState
from drive_app.permissions import access_item
from suite.access.roles import Perm
from suite.errors import NotFound, ValidationFailed
from suite.identity.auth import actor
from suite.openapi import error_statuses
from suite.storage import content_disposition, get_blob_store
from suite.storage.responses import streaming_body

router = Router()


@router.get("/{item_id}/zip/", response={200: None}, summary="Download a folder as a ZIP archive (streamed)")
@error_statuses(503)
def folder_zip(request: HttpRequest, item_id: str):
    folder = access_item(actor(request), item_id, need=Perm.VIEW)
    if folder.type != ItemType.FOLDER:
        raise ValidationFailed(_("Only folders are downloaded as ZIP archives."), code="not_a_folder")
    # Folders, and files that passed every check (fail closed): pending, infected or rejected
    # files are left out.
    rows = (
        Item.objects.filter(path__startswith=folder.path, ancestors_deleted_at__isnull=True)
        .filter(Q(type=ItemType.FOLDER) | Q(current_version__isnull=False))
        .order_by("path")
        .values_list("path", "title", "current_version__key", "current_version__size", "updated_at")
    )
    entries = zipper.archive_entries(folder.title, rows.iterator(chunk_size=2000))
    # streaming_body: under ASGI a plain generator would be read whole before the first byte.
    response = StreamingHttpResponse(streaming_body(request, zipper.stream_zip(entries)),
                                     content_type="application/zip")
    response["Content-Disposition"] = content_disposition(f"{folder.title}.zip")
    size = zipper.zip_size(entries)
    if size is not None:
        response["Content-Length"] = str(size)
    return response


@router.get("/{item_id}/preview/", response={302: None}, summary="A file's preview image (redirect)")
@error_statuses(503)
def preview(request: HttpRequest, item_id: str):
    item = access_item(actor(request), item_id, need=Perm.VIEW)
    version = item.current_version if item.type == ItemType.FILE else None
    if version is None or version.state != UploadState.READY or not version.preview_key:
        raise NotFound(_("No preview for this item."), code="no_preview")
    from drive_app.previews import PREVIEW_CONTENT_TYPE

    url = get_blob_store().presigned_get(
        version.preview_key, filename=f"{item.title}.webp", content_type=PREVIEW_CONTENT_TYPE, inline=True
    )
    return HttpResponseRedirect(url.url)
