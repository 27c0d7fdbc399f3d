"""In/Out schemas of comment threads, comments and reactions.

Inputs are plain strings here: their rules (length, control characters, emoji shape) live in
``docs_app.services.comments`` so every caller of the services gets the same checks. Outputs
are built from the querysets of ``docs_app.selectors.comments`` (viewer annotations, authors
and reaction summaries already loaded: serializing adds no query).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import WithJsonSchema

from docs_app.services.comments import (
    ANCHOR_MAX_LENGTH,
    BODY_MAX_LENGTH,
    EMOJI_MAX_LENGTH,
    EMOJI_PATTERN,
    comment_abilities,
    thread_abilities,
)
from suite.schemas import END, SPACE_CHARACTERS, InputSchema, documented, stripped_pattern

# The rules of ``clean_body`` and ``clean_anchor`` (documented; the services answer with
# their own messages): no control character (Unicode Cc) but line breaks and tabs, checked
# before a body is stripped; a body holds 1 to 10,000 characters once stripped.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SPACES = r"[\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"  # not controls
BODY_PATTERN = stripped_pattern(BODY_MAX_LENGTH, core=f"[^{_CONTROLS}]", edge=f"[^{SPACE_CHARACTERS}{_CONTROLS}]",
                                space=_SPACES)
ANCHOR_PATTERN = rf"^[^{_CONTROLS}]{{0,{ANCHOR_MAX_LENGTH}}}{END}"


#: A reaction in a path: the rule of ``clean_emoji``, declared for clients (the service
#: checks it, with its own message).
Emoji = Annotated[str, WithJsonSchema({
    "type": "string", "minLength": 1, "maxLength": EMOJI_MAX_LENGTH, "pattern": EMOJI_PATTERN,
    "description": "One emoji (🎉, 👍🏽, 1️⃣, 🇫🇷) or a short code such as `:thumbsup:`.",
})]


def body_field(description: str) -> Any:
    return Field(..., description=description, json_schema_extra=documented(pattern=BODY_PATTERN))


class ThreadIn(InputSchema):
    anchor: str = Field(
        ..., json_schema_extra=documented(pattern=ANCHOR_PATTERN),
        description="Opaque position in the content, stored as given (e.g. encoded Yjs "
        "relative positions); at most 10,000 characters; empty for the whole document.",
    )
    body: str = body_field("The first comment: 1-10,000 characters.")


class CommentIn(InputSchema):
    body: str = body_field("1-10,000 characters (surrounding spaces are removed).")


class AuthorOut(Schema):
    id: uuid.UUID
    full_name: str


class ReactionOut(Schema):
    emoji: str
    count: int
    reacted: bool = Field(..., description="Whether you are one of those who reacted.")


class CommentOut(Schema):
    id: uuid.UUID
    thread: uuid.UUID
    author: AuthorOut | None = Field(..., description="Null when the account was deleted.")
    body: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    reactions: list[ReactionOut] = Field(..., description="Per emoji, in order of first use.")
    abilities: dict[str, bool] = Field(..., description="update, destroy, react")

    @staticmethod
    def resolve_thread(comment: Any) -> Any:
        return comment.thread_id

    @staticmethod
    def resolve_reactions(comment: Any) -> list[dict[str, Any]]:
        summary = sorted(comment.reaction_summary, key=lambda r: (r.first_reacted_at, r.emoji))
        return [
            {"emoji": r.emoji, "count": r.reaction_count, "reacted": bool(r.actor_reacted)}
            for r in summary
        ]

    @staticmethod
    def resolve_abilities(comment: Any) -> dict[str, bool]:
        return comment_abilities(role=comment.viewer_role, actor_id=comment.viewer_id, comment=comment)


class ThreadOut(Schema):
    id: uuid.UUID
    document: uuid.UUID
    anchor: str
    creator: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved: bool
    resolved_at: dt.datetime | None
    resolved_by: uuid.UUID | None
    comments: list[CommentOut] = Field(..., description="Oldest first; the first opened the thread.")
    abilities: dict[str, bool] = Field(..., description="reply, resolve, reopen, destroy")

    @staticmethod
    def resolve_document(thread: Any) -> Any:
        return thread.document_id

    @staticmethod
    def resolve_creator(thread: Any) -> Any:
        return thread.creator_id

    @staticmethod
    def resolve_resolved_by(thread: Any) -> Any:
        return thread.resolved_by_id

    @staticmethod
    def resolve_resolved(thread: Any) -> bool:
        return thread.resolved_at is not None

    @staticmethod
    def resolve_comments(thread: Any) -> list[Any]:
        return list(thread.comments.all())

    @staticmethod
    def resolve_abilities(thread: Any) -> dict[str, bool]:
        return thread_abilities(role=thread.viewer_role, actor_id=thread.viewer_id, thread=thread)
