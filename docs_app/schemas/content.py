"""Payloads of the content and versions endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from docs_app.models import TITLE_MAX_LENGTH
from suite.schemas import NOT_BLANK, InputSchema

ReadFormat = Literal["yjs", "json", "markdown", "html", "text"]
WriteFormat = Literal["yjs", "json", "markdown"]


class ContentOut(Schema):
    format: ReadFormat
    content: Any = Field(
        description="base64 Yjs state update (yjs), ProseMirror JSON object (json), or text"
    )


class ContentIn(InputSchema):
    # What `content` is for each format.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"properties": {"format": {"const": "yjs"},
                        "content": {"type": "string", "contentEncoding": "base64"}}},
        {"properties": {"format": {"const": "json"}, "content": {"type": "object"}}},
        {"properties": {"format": {"const": "markdown"}, "content": {"type": "string"}}},
    ]})

    format: WriteFormat = Field(description="What `content` holds")
    content: Any = Field(
        description="base64 Yjs update (yjs), ProseMirror JSON document (json) or Markdown text"
    )
    mode: Literal["replace", "append"] = Field(
        "replace",
        description="For json and markdown: replace the content, or append to it (a Yjs update "
        "is always merged)",
    )


class DocumentVersionIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=TITLE_MAX_LENGTH, pattern=NOT_BLANK)


class VersionCreatorOut(Schema):
    id: uuid.UUID
    full_name: str


class DocumentVersionOut(Schema):
    id: uuid.UUID
    kind: Literal["auto", "named"]
    name: str
    size: int = Field(description="Bytes of the stored Yjs state")
    creator: VersionCreatorOut | None
    created_at: dt.datetime
