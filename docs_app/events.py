"""Platform events of the documents product, published by ``docs_app.services`` inside their
transactions (delivered after commit, see ``suite.events``).

Every event carries ``document_id`` (the document concerned) plus the ids a subscriber needs
to fetch what changed; payloads never embed content (titles, comment bodies), so a subscriber
always reads the current state and respects access rules when it shows something.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from suite.events import PlatformEvent, register

RoleSlug = Literal["reader", "commenter", "editor", "administrator", "owner"]


class DocumentEvent(PlatformEvent):
    """Something happened to (or on) one document."""

    document_id: uuid.UUID


# --- documents -------------------------------------------------------------------------------


@register
class DocumentCreated(DocumentEvent):
    """A document was created (``parent_id`` null for a root; also published for each copy a
    duplication makes, with ``source_id`` set)."""

    name: ClassVar[str] = "docs.document_created"
    parent_id: uuid.UUID | None = None
    source_id: uuid.UUID | None = None


@register
class DocumentUpdated(DocumentEvent):
    """Title, excerpt or link settings changed; ``fields`` names what changed."""

    name: ClassVar[str] = "docs.document_updated"
    fields: list[str] = []


@register
class DocumentMoved(DocumentEvent):
    """A document (with its subtree) got a new parent and/or position."""

    name: ClassVar[str] = "docs.document_moved"
    old_parent_id: uuid.UUID | None = None
    new_parent_id: uuid.UUID | None = None


@register
class DocumentDeleted(DocumentEvent):
    """A document and its subtree went to the trash."""

    name: ClassVar[str] = "docs.document_deleted"


@register
class DocumentRestored(DocumentEvent):
    """A document and its subtree came back from the trash."""

    name: ClassVar[str] = "docs.document_restored"


@register
class DocumentDestroyed(DocumentEvent):
    """A document and its subtree were deleted for good (by a user or the trash purge);
    ``descendant_ids`` lists the other documents that went with it."""

    name: ClassVar[str] = "docs.document_destroyed"
    descendant_ids: list[uuid.UUID] = []


# --- comments --------------------------------------------------------------------------------


@register
class CommentCreated(DocumentEvent):
    """A comment was posted (a new thread's first comment, or a reply)."""

    name: ClassVar[str] = "docs.comment_created"
    thread_id: uuid.UUID
    comment_id: uuid.UUID


@register
class CommentUpdated(DocumentEvent):
    name: ClassVar[str] = "docs.comment_updated"
    thread_id: uuid.UUID
    comment_id: uuid.UUID


@register
class CommentDeleted(DocumentEvent):
    name: ClassVar[str] = "docs.comment_deleted"
    thread_id: uuid.UUID
    comment_id: uuid.UUID


@register
class ThreadResolved(DocumentEvent):
    name: ClassVar[str] = "docs.thread_resolved"
    thread_id: uuid.UUID


@register
class ThreadReopened(DocumentEvent):
    name: ClassVar[str] = "docs.thread_reopened"
    thread_id: uuid.UUID


@register
class ReactionAdded(DocumentEvent):
    name: ClassVar[str] = "docs.reaction_added"
    thread_id: uuid.UUID
    comment_id: uuid.UUID
    emoji: str


@register
class ReactionRemoved(DocumentEvent):
    name: ClassVar[str] = "docs.reaction_removed"
    thread_id: uuid.UUID
    comment_id: uuid.UUID
    emoji: str


# --- access requests and invitations --------------------------------------------------------


@register
class AccessRequested(DocumentEvent):
    """A user asked for access to a document."""

    name: ClassVar[str] = "docs.access_requested"
    access_request_id: uuid.UUID
    user_id: uuid.UUID
    role: RoleSlug


@register
class AccessRequestDecided(DocumentEvent):
    """An owner or administrator accepted (with ``role``) or refused a request."""

    name: ClassVar[str] = "docs.access_request_decided"
    access_request_id: uuid.UUID
    user_id: uuid.UUID
    status: Literal["accepted", "refused"]
    role: RoleSlug | None = None


@register
class InvitationCreated(DocumentEvent):
    """An email address without an account was invited to a document."""

    name: ClassVar[str] = "docs.invitation_created"
    invitation_id: uuid.UUID
    role: RoleSlug
