"""Documents: a tree of access-controlled documents, and everything attached to them
(accesses, invitations, access requests, comments, favorites, visits).

Data and invariants only: no I/O in ``save()``; writes go through ``docs_app.services``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suite.access.models import AccessControlled, ResourceAccess, ResourceFavorite, ResourceVisit
from suite.access.roles import Role

TITLE_MAX_LENGTH = 255
EXCERPT_MAX_LENGTH = 500


class Document(AccessControlled):
    """A document in the tree. ``path`` (from ``AccessControlled``) is a materialized path:
    the subtree of a document is ``path LIKE '<path>%'``, one index range scan. Sibling order
    is ``position`` (fractional: inserting between two siblings never rewrites the others).

    Soft delete: ``deleted_at`` is set on the document the user deleted, and
    ``ancestors_deleted_at`` on every document of its subtree (itself included), so "in the
    trash" is one indexed column whatever the depth.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True)
    excerpt = models.CharField(_("excerpt"), max_length=EXCERPT_MAX_LENGTH, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    position = models.FloatField(default=0)
    #: Children ever created under this document: allocates their path segments.
    child_counter = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    ancestors_deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    #: Last accepted content edit (websocket or content API); ``None``: never edited.
    content_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path"]
        permissions = [
            ("comment_document", "Can comment on the document"),
            ("share_document", "Can manage the document's accesses"),
            ("destroy_document", "Can delete the document for good"),
        ]
        # Title search index (trigram over the unaccented, lower-cased title) is created in
        # migration 0001 with SQL: Django cannot express the immutable unaccent wrapper.

    def __str__(self) -> str:
        return self.title or str(self.id)

    @property
    def parent_path(self) -> str | None:
        from suite.access.models import PATH_STEP

        return self.path[:-PATH_STEP] if self.depth > 1 else None

    @property
    def is_in_trash(self) -> bool:
        return self.ancestors_deleted_at is not None


class DocumentAccess(ResourceAccess):
    resource = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="accesses")

    class Meta(ResourceAccess.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.principal_kind} {self.user_id or self.team_id} {Role(self.role).slug} on {self.resource_id}"


class Invitation(models.Model):
    """A role offered to an email address without an account; becomes a ``DocumentAccess``
    when that address first signs in (if not expired)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.PositiveSmallIntegerField(choices=Role.choices)
    issuer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint("document", Lower("email"), name="docs_invitation_unique_email"),
        ]
        indexes = [models.Index(Lower("email"), name="docs_invitation_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} → {self.document_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", _("Refused")


class AccessRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="access_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.READER)
    message = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=10, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "user"],
                condition=Q(status="pending"),
                name="docs_access_request_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} asks {Role(self.role).slug} on {self.document_id} ({self.status})"


class CommentThread(models.Model):
    """A discussion anchored in the document's content. ``anchor`` is opaque to the server:
    the editor stores there what it needs (e.g. encoded Yjs relative positions)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="comment_threads")
    anchor = models.TextField(blank=True, max_length=10_000)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"thread {self.id} on {self.document_id}"


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    thread = models.ForeignKey(CommentThread, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"comment {self.id}"


class Reaction(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "user", "emoji"], name="docs_reaction_unique")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id}"


class Favorite(ResourceFavorite):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="favorites")

    resource_field = "document"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="docs_favorite_unique")
        ]


class Visit(ResourceVisit):
    """The last time a user opened a document ("recently visited")."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="visits")

    resource_field = "document"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "document"], name="docs_visit_unique")]
        indexes = [models.Index(fields=["user", "-visited_at"], name="docs_visit_recent_idx")]


# --- content: the CRDT update log, snapshots and versions (see docs_app.collab) -------------


class DocumentUpdate(models.Model):
    """One accepted Yjs update, appended before any peer sees it. Loading a document is its
    snapshot plus every row still here (in any order: Yjs updates commute and applying one
    twice is harmless); compaction folds rows into the snapshot and deletes exactly those."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["document", "id"], name="docs_update_log_idx")]

    def __str__(self) -> str:
        return f"update {self.id} of {self.document_id}"


class DocumentSnapshot(models.Model):
    """The compacted state of a document (a Yjs state update) as of its last compaction."""

    document = models.OneToOneField(
        Document, primary_key=True, on_delete=models.CASCADE, related_name="snapshot"
    )
    state = models.BinaryField()
    #: Updates folded into this snapshot over the document's life (statistics).
    updates_merged = models.BigIntegerField(default=0)
    compacted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"snapshot of {self.document_id}"


class VersionKind(models.TextChoices):
    AUTO = "auto", _("Automatic")
    NAMED = "named", _("Named")


class DocumentVersion(models.Model):
    """A document's content at one moment, as a self-contained Yjs state (so garbage
    collection of deleted content in the live document never breaks a version)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    kind = models.CharField(max_length=8, choices=VersionKind.choices)
    name = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    state = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["document", "-created_at"], name="docs_version_recent_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} version {self.name or self.created_at:%Y-%m-%d %H:%M} of {self.document_id}"


# --- search: the plain text of each document's content, indexed (see docs_app.search) --------

# Imported here to keep this section in one block of the file.
from django.contrib.postgres.indexes import GinIndex  # noqa: E402
from django.contrib.postgres.search import SearchVectorField  # noqa: E402


class DocumentContentIndex(models.Model):
    """The plain text of a document's content and its full-text vector, written by
    ``docs_app.search.index_content`` each time the content changes. Kept out of the
    document row so that lists, which select whole rows, never read it."""

    document = models.OneToOneField(
        Document, primary_key=True, on_delete=models.CASCADE, related_name="content_index"
    )
    text = models.TextField(blank=True)
    vector = SearchVectorField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Every search scans the GIN pending list (~2 ms per MB measured): keep it at 1 MB
        # rather than the default 4 MB; writers merge it into the index when it is full.
        indexes = [
            GinIndex(fields=["vector"], name="docs_content_vector_idx", gin_pending_list_limit=1024)
        ]

    def __str__(self) -> str:
        return f"content index of {self.document_id}"
