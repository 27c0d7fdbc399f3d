"""API schemas of share links: managing them (``LinkOut``, with the secret only in
``LinkCreatedOut``) and using them without an account (``LinkItemOut``: the restricted item
payload a visitor sees, never ids or names from outside the link's subtree)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Field, Schema

from drive_app.models import Item, ShareLink
from drive_app.schemas.items import (
    MultipartOut,
    UploadRequestOut,
    content_type_field,
    file_size_field,
    sha256_field,
    title_field,
)
from drive_app.services.links import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    downloads_exhausted,
    link_expired,
)
from suite.access.roles import role_slug
from suite.schemas import INTEGRAL, InputSchema, NonNegativeInt
from suite.storage import PresignedRequest

LinkRole = Literal["reader", "editor"]
DownloadLimit = Annotated[int, Field(ge=1, le=2**31 - 1), INTEGRAL]


class LinkCreateIn(InputSchema):
    role: LinkRole = Field("reader", description="reader: browse and download; editor (folders only): also upload.")
    password: str | None = Field(None, min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH,
                                 description="Asked to visitors; stored hashed.")
    expires_at: dt.datetime | None = Field(None, strict=False, description="In the future, with a time zone.")
    max_downloads: DownloadLimit | None = None


class LinkUpdateIn(InputSchema):
    """Fields left out stay as they are; ``null`` clears the password, expiry or limit (a
    role cannot be cleared)."""

    role: LinkRole = None  # type: ignore[assignment]  # left out: unchanged; never null
    password: str | None = Field(None, min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
    expires_at: dt.datetime | None = Field(None, strict=False, description="In the future, with a time zone.")
    max_downloads: DownloadLimit | None = None


class LinkOut(Schema):
    id: uuid.UUID
    item: uuid.UUID
    role: str
    token_prefix: str = Field(..., description="The token's first characters, to tell links apart.")
    has_password: bool
    expires_at: dt.datetime | None
    expired: bool
    max_downloads: int | None
    download_count: int
    downloads_exhausted: bool
    revoked: bool
    revoked_at: dt.datetime | None
    created_by: uuid.UUID | None
    created_at: dt.datetime


class LinkCreatedOut(LinkOut):
    token: str = Field(..., description="The secret: shown only now.")
    url: str = Field(..., description="The page to give to visitors.")


def link_out(link: ShareLink, *, token: str | None = None, url: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": link.pk,
        "item": link.item_id,
        "role": role_slug(link.role),
        "token_prefix": link.token_prefix,
        "has_password": bool(link.password_hash),
        "expires_at": link.expires_at,
        "expired": link_expired(link),
        "max_downloads": link.max_downloads,
        "download_count": link.download_count,
        "downloads_exhausted": downloads_exhausted(link),
        "revoked": link.revoked_at is not None,
        "revoked_at": link.revoked_at,
        "created_by": link.created_by_id,
        "created_at": link.created_at,
    }
    if token is not None:
        data.update(token=token, url=url)
    return data


# --- public use ------------------------------------------------------------------------------------------


class LinkOpenIn(InputSchema):
    password: str | None = Field(None, max_length=1024)


class LinkItemOut(Schema):
    id: uuid.UUID
    type: Literal["folder", "file"]
    title: str
    parent: uuid.UUID | None = Field(None, description="Null for the link's own item.")
    size: int | None = None
    mimetype: str = ""
    upload_state: str | None = None
    role: str = Field(..., description="What the link allows: reader or editor.")
    updated_at: dt.datetime
    upload: UploadRequestOut | None = Field(None, description="Small files just created: the presigned PUT.")
    multipart: MultipartOut | None = None


class LinkOpenOut(Schema):
    item: LinkItemOut
    access: str = Field(..., description="Send as the X-Link-Access header on the following calls.")
    access_expires_at: dt.datetime


class LinkFileCreateIn(InputSchema):
    title: str = title_field()
    size: NonNegativeInt = file_size_field()
    content_type: str | None = content_type_field()
    sha256: str | None = sha256_field()
    parent: str | None = Field(None, description="A folder of the link (default: the link's folder).")
    on_conflict: Literal["error", "rename"] = "error"


def link_item_out(item: Item, link: ShareLink, *, upload: PresignedRequest | None = None,
                  multipart: tuple[int, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.pk,
        "type": item.type,
        "title": item.title,
        "parent": None if item.pk == link.item_id else item.parent_id,
        "size": item.size,
        "mimetype": item.mimetype,
        "upload_state": item.upload_state,
        "role": role_slug(link.role),
        "updated_at": item.updated_at,
    }
    if upload is not None:
        data["upload"] = {"url": upload.url, "method": upload.method, "headers": upload.headers,
                          "expires_at": upload.expires_at}
    if multipart is not None:
        data["multipart"] = {"part_size": multipart[0], "part_count": multipart[1]}
    return data
