"""API schemas of documents: the one document payload (``DocumentOut``) and the inputs of
create, update, move and duplicate.

``DocumentOut`` reads the annotations the selectors put on each document (``effective_role``,
``is_favorite``, ``nb_children``) so a page of documents costs no query per item; the
abilities are computed in Python from the role. ``document_out`` fills in what a document
fetched without those annotations lacks (one query each), for single-document responses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import field_validator

from docs_app.models import EXCERPT_MAX_LENGTH, TITLE_MAX_LENGTH, Document, Favorite
from docs_app.permissions import document_abilities
from suite.access.resolve import ROLE_ANNOTATION, effective_role
from suite.access.roles import Role
from suite.schemas import END, SPACE, SPACE_CHARACTERS, InputSchema, LinkRoleSlug, documented


def _actor(context: Any) -> Any:
    context = context or {}
    if "actor" in context:
        return context["actor"]
    request = context.get("request")
    return getattr(request, "user", None)


_MISSING = object()


def _already_built(obj: Any, field: str) -> Any:
    """The value of ``field`` when ``obj`` is an already serialized document (a dict or a
    schema instance being validated again by ninja), else ``_MISSING``."""
    while isinstance(obj, DjangoGetter):
        obj = obj._obj
    if isinstance(obj, dict):
        return obj.get(field, _MISSING)
    if isinstance(obj, Schema):
        return getattr(obj, field, _MISSING)
    return _MISSING


class DocumentOut(Schema):
    """A document as every endpoint returns it, with the actor's role and abilities."""

    id: uuid.UUID
    title: str
    excerpt: str
    parent: uuid.UUID | None = Field(None, description="Id of the parent document (null: root).")
    depth: int
    position: float
    link_reach: str
    link_role: str
    role: str | None = Field(None, description="The actor's effective role (null: none).")
    abilities: dict[str, bool]
    creator: uuid.UUID | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None
    is_favorite: bool = False
    nb_children: int | None = None

    @staticmethod
    def resolve_parent(obj: Any) -> Any:
        if (built := _already_built(obj, "parent")) is not _MISSING:
            return built
        return getattr(obj, "parent_id", None)

    @staticmethod
    def resolve_link_role(obj: Any) -> str:
        if (built := _already_built(obj, "link_role")) is not _MISSING:
            return built
        return Role(obj.link_role).slug

    @staticmethod
    def resolve_role(obj: Any) -> str | None:
        if (built := _already_built(obj, "role")) is not _MISSING:
            return built
        role = getattr(obj, ROLE_ANNOTATION, None)
        return None if role is None else Role(role).slug

    @staticmethod
    def resolve_abilities(obj: Any, context: Any) -> dict[str, bool]:
        if (built := _already_built(obj, "abilities")) is not _MISSING:
            return built
        return document_abilities(obj, _actor(context))

    @staticmethod
    def resolve_creator(obj: Any) -> Any:
        if (built := _already_built(obj, "creator")) is not _MISSING:
            return built
        return obj.creator_id

    @staticmethod
    def resolve_is_favorite(obj: Any) -> bool:
        if (built := _already_built(obj, "is_favorite")) is not _MISSING:
            return built
        return bool(getattr(obj, "is_favorite", False))

    @staticmethod
    def resolve_nb_children(obj: Any) -> int | None:
        if (built := _already_built(obj, "nb_children")) is not _MISSING:
            return built
        return getattr(obj, "nb_children", None)


class DocumentListItemOut(DocumentOut):
    """A document in the documents list; with ``q``, with the search snippet."""

    snippet: str | None = Field(
        None,
        description=(
            "Only with `q`: up to two short fragments of the content around the matches, "
            "each match in `<mark>`…`</mark>`; empty when only the title matched; null "
            "without `q`. HTML: the content is escaped, `<mark>` and `</mark>` are the only "
            "tags."
        ),
    )

    @staticmethod
    def resolve_snippet(obj: Any) -> str | None:
        if (built := _already_built(obj, "snippet")) is not _MISSING:
            return built
        return getattr(obj, "snippet", None)


class VisitedDocumentOut(DocumentOut):
    """A recently visited document, with the actor's last visit time."""

    visited_at: dt.datetime


def document_out(document: Document, actor: Any) -> DocumentOut:
    """``document`` as a ``DocumentOut`` for ``actor``. Annotations missing on ``document``
    (role, favorite, children count, parent id) are computed here, one query each."""
    from docs_app.selectors.documents import children_of, parent_id_of

    authenticated = bool(getattr(actor, "is_authenticated", False))
    if not hasattr(document, ROLE_ANNOTATION):
        setattr(document, ROLE_ANNOTATION, effective_role(actor, document))
    if not hasattr(document, "is_favorite"):
        document.is_favorite = authenticated and Favorite.objects.filter(  # type: ignore[attr-defined]
            user_id=actor.pk, document_id=document.pk
        ).exists()
    if not hasattr(document, "nb_children"):
        document.nb_children = children_of(document).count()  # type: ignore[attr-defined]
    if not hasattr(document, "parent_id"):
        document.parent_id = parent_id_of(document)  # type: ignore[attr-defined]
    return DocumentOut.model_validate(document, context={"actor": actor})


_CONTROLS = r"\x00-\x1f\x7f-\x9f"
#: ``TitleMixin``'s rule: once stripped, empty or up to 255 characters, none of them a
#: control character (documented; the validator answers with its own message).
TITLE_PATTERN = (
    rf"^{SPACE}*(?:[^{_CONTROLS}{SPACE_CHARACTERS}](?:[^{_CONTROLS}]{{0,{TITLE_MAX_LENGTH - 2}}}"
    rf"[^{_CONTROLS}{SPACE_CHARACTERS}])?)?{SPACE}*{END}"
)


class TitleMixin(InputSchema):
    @field_validator("title", check_fields=False)
    @classmethod
    def _clean_title(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = value.strip()
        if any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 for char in value):
            raise ValueError("control characters are not allowed in a title")
        if len(value) > TITLE_MAX_LENGTH:
            raise ValueError(f"at most {TITLE_MAX_LENGTH} characters")
        return value


class DocumentCreateIn(TitleMixin):
    title: str = Field(
        "", json_schema_extra=documented(pattern=TITLE_PATTERN),
        description="Empty means untitled; stripped; no control characters.",
    )
    parent: str | None = Field(None, description="Id of the parent document; null for a root.")


class DocumentUpdateIn(TitleMixin):
    title: str | None = Field(None, json_schema_extra=documented(pattern=TITLE_PATTERN))
    excerpt: str | None = Field(None, max_length=EXCERPT_MAX_LENGTH)
    link_reach: Literal["restricted", "authenticated", "public"] | None = None
    link_role: LinkRoleSlug | None = None


class DocumentMoveIn(InputSchema):
    """Where to move a document: under ``parent`` (null: make it a root), placed right
    ``before`` or ``after`` one of the new siblings, or last when neither is given."""

    parent: str | None = None
    before: str | None = Field(None, description="Id of a sibling to place the document before.")
    after: str | None = Field(None, description="Id of a sibling to place the document after.")


class DocumentDuplicateIn(InputSchema):
    with_descendants: bool = False


DocumentOrdering = Literal["-updated_at", "updated_at", "title", "-title", "created_at", "-created_at"]
DocumentScope = Literal["all", "mine", "shared", "favorites"]


class TreeNodeOut(DocumentOut):
    """A document in a sidebar tree: ``children`` is loaded along the path to the document
    and for the document itself; elsewhere it is empty (see ``nb_children``)."""

    children: list[TreeNodeOut] = []


TreeNodeOut.model_rebuild()
