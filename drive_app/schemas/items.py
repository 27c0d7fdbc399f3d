"""API schemas of the drive: the one item payload (``ItemOut``, built by :func:`item_out`
from an item annotated by the selectors) and the inputs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from drive_app.models import TITLE_MAX_LENGTH, Item, UploadState
from drive_app.permissions import item_abilities
from suite.access.resolve import ROLE_ANNOTATION, effective_role
from suite.access.roles import role_slug
from suite.schemas import (
    END,
    INTEGRAL,
    SPACE,
    SPACE_CHARACTERS,
    InputSchema,
    NonNegativeInt,
    documented,
    stripped_pattern,
)
from suite.storage import PresignedRequest
from suite.storage.validation import CONTENT_TYPE_MAX_LENGTH
from suite.storage.validation import CONTENT_TYPE_PATTERN as _CONTENT_TYPE


class UploadRequestOut(Schema):
    """Where and how to send the bytes of a small file: one presigned PUT."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: dt.datetime


class MultipartOut(Schema):
    """A large file goes up in parts: ask for part URLs, PUT each part (resumable: list the
    parts S3 holds), then call ``upload-ended``."""

    part_size: int
    part_count: int


class ItemOut(Schema):
    id: uuid.UUID
    type: Literal["folder", "file"]
    title: str
    parent: uuid.UUID | None = Field(None, description="The parent folder (null: a workspace root).")
    workspace: bool = Field(False, description="True for the actor's personal root.")
    size: int | None = None
    mimetype: str = ""
    sha256: str = ""
    upload_state: str | None = Field(None, description="pending, analyzing, ready, infected or rejected (newest upload).")
    upload_error: dict[str, str] | None = None
    role: str | None = Field(None, description="The actor's effective role (null: none).")
    abilities: dict[str, bool]
    link_reach: str
    link_role: str
    creator: uuid.UUID | None = None
    is_favorite: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None
    upload_url: str | None = Field(None, description="Small files: the presigned PUT URL.")
    upload: UploadRequestOut | None = None
    multipart: MultipartOut | None = None


def item_out(item: Item, actor: Any, *, upload: PresignedRequest | None = None,
             multipart: tuple[int, int] | None = None, error: dict[str, str] | None = None) -> dict[str, Any]:
    if not hasattr(item, ROLE_ANNOTATION):
        setattr(item, ROLE_ANNOTATION, effective_role(actor, item))
    role = getattr(item, ROLE_ANNOTATION)
    data: dict[str, Any] = {
        "id": item.pk,
        "type": item.type,
        "title": item.title,
        "parent": item.parent_id,
        "workspace": item.workspace_owner_id is not None,
        "size": item.size,
        "mimetype": item.mimetype,
        "sha256": item.sha256,
        "upload_state": item.upload_state,
        "upload_error": error,
        "role": role_slug(role),
        "abilities": item_abilities(item, actor),
        "link_reach": item.link_reach,
        "link_role": role_slug(item.link_role),
        "creator": item.creator_id,
        "is_favorite": bool(getattr(item, "is_favorite", False)),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "deleted_at": item.deleted_at,
    }
    if upload is not None:
        data["upload_url"] = upload.url
        data["upload"] = {"url": upload.url, "method": upload.method, "headers": upload.headers,
                          "expires_at": upload.expires_at}
    if multipart is not None:
        data["multipart"] = {"part_size": multipart[0], "part_count": multipart[1]}
    if error is None and item.upload_state in (UploadState.REJECTED, UploadState.INFECTED):
        from drive_app.models import FileVersion

        if hasattr(item, "latest_reason"):  # annotated by the selectors: no query
            reason = item.latest_reason or ""
        else:
            reason = (
                FileVersion.objects.filter(item=item).order_by("-number").values_list("state_reason", flat=True).first()
                or ""
            )
        code, _sep, message = reason.partition(":")
        data["upload_error"] = {"code": code, "message": message.strip()}
    return data


OnConflict = Literal["error", "rename", "version"]


#: What a title cannot hold (see ``clean_title``), as a regular expression class: ``/``, ``\\``
#: and the characters of Unicode categories Cc, Cf (but the zero width joiner of emoji
#: sequences), Zl and Zp, as of Unicode 14 (Python 3.11; a test compares it with
#: ``unicodedata``). Astral characters are written as themselves (see ``suite.schemas``).
_FORBIDDEN = (
    r"/\\\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200c\u200e-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    + "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}" for low, high in (
        (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    ))
)
#: ``clean_title``'s rule on the title as sent (it is stripped first): 1 to 255 characters
#: besides surrounding whitespace, none of the characters above, not "." or "..".
TITLE_PATTERN = rf"^(?!{SPACE}*\.{{1,2}}{SPACE}*{END})" + stripped_pattern(
    TITLE_MAX_LENGTH, core=f"[^{_FORBIDDEN}]", edge=f"[^{SPACE_CHARACTERS}{_FORBIDDEN}]"
).removeprefix("^")
#: A media type (``type/subtype``, optional parameters), as ``validate_content_type`` reads
#: it; empty: the default.
CONTENT_TYPE_PATTERN = rf"^(?:{_CONTENT_TYPE.pattern})?{END}"
SHA256_PATTERN = rf"^(?:[0-9a-fA-F]{{64}})?{END}"  # empty: none


# Documented: the services check them and answer with their own codes (invalid_title...).
def title_field(default: Any = ...) -> Any:
    return Field(default, json_schema_extra=documented(pattern=TITLE_PATTERN))


def _max_file_bytes() -> int:
    from django.conf import settings

    return int(settings.DRIVE_MAX_FILE_BYTES)


def file_size_field(default: Any = ...) -> Any:
    """The exact size in bytes; larger than DRIVE_MAX_FILE_BYTES is a 413 (documented)."""
    return Field(default, description="Files: the exact size in bytes.",
                 json_schema_extra=documented(maximum=_max_file_bytes))


def content_type_field() -> Any:
    return Field(None, description="Files: the media type (default application/octet-stream).",
                 json_schema_extra=documented(pattern=CONTENT_TYPE_PATTERN, maxLength=CONTENT_TYPE_MAX_LENGTH))


def sha256_field() -> Any:
    return Field(None, description="Files: hex SHA-256, checked after the upload.",
                 json_schema_extra=documented(pattern=SHA256_PATTERN))


class ItemCreateIn(InputSchema):
    """A folder, or a file (with its ``size``)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"properties": {"type": {"const": "folder"}}},
        {"properties": {"type": {"const": "file"}, "size": {"type": "integer"}}, "required": ["size"]},
    ]})

    type: Literal["folder", "file"]
    title: str = title_field()
    parent: str | None = None
    size: NonNegativeInt | None = file_size_field(None)
    content_type: str | None = content_type_field()
    sha256: str | None = sha256_field()
    on_conflict: OnConflict = Field(
        "error", description="A sibling has this title: error (409), rename (“name (2)”), or version (files: add a version)."
    )


class ItemUpdateIn(InputSchema):
    title: str | None = title_field(None)
    on_conflict: Literal["error", "rename"] = "error"
    link_reach: Literal["restricted", "authenticated", "public"] | None = Field(
        None, description="Who reaches the item (and what is inside) without a grant. Administrators and owners."
    )
    link_role: Literal["reader", "commenter", "editor"] | None = None


class ItemMoveIn(InputSchema):
    parent: str | None = Field(None, description="Target folder (null: the actor's workspace).")
    on_conflict: Literal["error", "rename"] = "error"


class ItemCopyIn(InputSchema):
    parent: str | None = None
    on_conflict: Literal["error", "rename"] = "rename"


#: S3 numbers the parts of an upload from 1 to 10,000.
MAX_PARTS = 10_000
PartNumber = Annotated[int, Field(ge=1, le=MAX_PARTS), INTEGRAL]


class PartIn(InputSchema):
    number: PartNumber
    etag: str = Field(..., max_length=200)


class UploadEndedIn(InputSchema):
    parts: list[PartIn] | None = Field(
        None, description="Multipart: the parts to assemble (number and ETag). Omitted: every part S3 holds."
    )


class PartUrlsIn(InputSchema):
    parts: list[PartNumber] = Field(
        ..., description="Part numbers (1-based).", min_length=1, max_length=1000
    )


class PartUrlOut(Schema):
    number: int
    url: str
    method: str
    headers: dict[str, str]
    expires_at: dt.datetime


class UploadedPartOut(Schema):
    number: int
    etag: str
    size: int


class PartsOut(Schema):
    part_size: int
    part_count: int
    parts: list[UploadedPartOut]


class FileVersionIn(InputSchema):
    size: NonNegativeInt = file_size_field()
    content_type: str | None = content_type_field()
    sha256: str | None = sha256_field()


class FileVersionOut(Schema):
    id: uuid.UUID
    number: int
    state: str
    size: int | None
    mimetype: str
    sha256: str
    current: bool
    uploaded_by: uuid.UUID | None
    created_at: dt.datetime
    uploaded_at: dt.datetime | None


class UsageOut(Schema):
    used_bytes: int
    quota_bytes: int
    available_bytes: int
    by_type: dict[str, int]
