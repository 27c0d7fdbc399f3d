"""Drive: folders and files in a tree of access-controlled items, their file versions (one S3
object each), share links, favorites, visits and per-user quotas.

Data and invariants only: no I/O in ``save()``; writes go through ``drive_app.services``.

- Every user has a personal root folder (``Item.workspace_owner`` set, no parent), created on
  first use; items created "at the root" go there. A folder shared with someone is a root for
  them ("shared with me").
- A file's bytes are its versions: each upload (a new file, or a new version of an existing
  one) is a ``FileVersion`` row with its own S3 key, moving through ``pending -> analyzing ->
  ready | infected | rejected``. ``Item.current_version`` is the newest *ready* version, the
  only one ever served; ``Item.upload_state`` is the state of the newest upload.
- Quotas: bytes are charged to the item's ``quota_owner`` (the owner of the workspace the item
  lives in, so an editor uploading into a shared folder fills the owner's quota).
  ``DriveUsage.used_bytes`` is the counter, updated under a row lock in the same transaction
  as the version, so two parallel uploads cannot overshoot.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suite.access.models import (
    PATH_STEP,
    AccessControlled,
    ResourceAccess,
    ResourceFavorite,
    ResourceVisit,
)
from suite.access.roles import Role

TITLE_MAX_LENGTH = 255


class ItemType(models.TextChoices):
    FOLDER = "folder", _("Folder")
    FILE = "file", _("File")


class UploadState(models.TextChoices):
    PENDING = "pending", _("Waiting for the upload")
    ANALYZING = "analyzing", _("Being checked")
    READY = "ready", _("Ready")
    INFECTED = "infected", _("Infected")
    REJECTED = "rejected", _("Rejected")


class Item(AccessControlled):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=10, choices=ItemType.choices)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    #: Set on personal roots only: the user whose workspace this is.
    workspace_owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="drive_workspace",
    )
    quota_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # File fields: those of the current (ready) version, copied for listing and sorting.
    size = models.BigIntegerField(null=True, blank=True)
    mimetype = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    upload_state = models.CharField(
        max_length=10, choices=UploadState.choices, null=True, blank=True
    )
    current_version = models.ForeignKey(
        "FileVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: Children ever created under this folder: allocates their path segments.
    child_counter = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    ancestors_deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["path"]
        permissions = [
            ("share_item", "Can manage the item's accesses and links"),
            ("destroy_item", "Can delete the item for good"),
        ]
        constraints = [
            # Sibling titles are unique (case-insensitively, as desktop file systems expect)
            # among the items that are not in the trash.
            models.UniqueConstraint(
                "parent",
                Lower("title"),
                condition=Q(ancestors_deleted_at__isnull=True, parent__isnull=False),
                name="drive_item_unique_sibling_title",
            ),
            models.CheckConstraint(
                condition=Q(type=ItemType.FOLDER) | Q(workspace_owner__isnull=True),
                name="drive_item_workspace_is_folder",
            ),
        ]
        indexes = [
            models.Index(fields=["parent", "type", "title"], name="drive_item_children_idx"),
            models.Index(fields=["quota_owner"], name="drive_item_quota_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def parent_path(self) -> str | None:
        return self.path[:-PATH_STEP] if self.depth > 1 else None

    @property
    def is_folder(self) -> bool:
        return self.type == ItemType.FOLDER

    @property
    def is_in_trash(self) -> bool:
        return self.ancestors_deleted_at is not None


class ItemAccess(ResourceAccess):
    resource = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="accesses")

    class Meta(ResourceAccess.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.principal_kind} {self.user_id or self.team_id} {Role(self.role).slug} on {self.resource_id}"


class FileVersion(models.Model):
    """One upload of a file's bytes: its own S3 object (``key``, never user input)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    key = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=10, choices=UploadState.choices, default=UploadState.PENDING)
    #: What the client declared when it started the upload (checked at upload-ended).
    declared_size = models.BigIntegerField()
    declared_mimetype = models.CharField(max_length=255, blank=True)
    declared_sha256 = models.CharField(max_length=64, blank=True)
    # What the server found.
    size = models.BigIntegerField(null=True, blank=True)
    mimetype = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    #: Why a version was rejected or what the scanner found (machine code + text).
    state_reason = models.CharField(max_length=255, blank=True)
    #: Bytes charged to the quota owner for this version (0 until accepted).
    charged_bytes = models.BigIntegerField(default=0)
    # S3 multipart upload (large files), else empty.
    multipart_upload_id = models.CharField(max_length=1024, blank=True)
    part_size = models.BigIntegerField(null=True, blank=True)
    preview_key = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    #: The share link a visitor started this upload through: only that link may send its
    #: parts and end it (a link visitor never finishes someone else's upload).
    via_link = models.ForeignKey("ShareLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="drive_version_unique_number")
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="drive_version_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.number} ({self.state})"


class ShareLink(models.Model):
    """A secret link to an item, usable without an account: reader (download/browse) or
    editor (upload into a folder); optional password (hashed), expiry and download limit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="share_links")
    #: The secret in the URL; only its SHA-256 is stored.
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=8)
    role = models.PositiveSmallIntegerField(
        choices=[(Role.READER.value, Role.READER.label), (Role.EDITOR.value, Role.EDITOR.label)],
        default=Role.READER,
    )
    password_hash = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_downloads = models.PositiveIntegerField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"link {self.token_prefix}… to {self.item_id}"


class Favorite(ResourceFavorite):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="favorites")

    resource_field = "item"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="drive_favorite_unique")]


class Visit(ResourceVisit):
    """The last time a user opened or downloaded an item ("recent")."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="visits")

    resource_field = "item"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="drive_visit_unique")]
        indexes = [models.Index(fields=["user", "-visited_at"], name="drive_visit_recent_idx")]


class DriveUsage(models.Model):
    """Bytes charged to a user (all versions of the files in their workspaces, trash
    included) and their quota override (``None``: ``DRIVE_DEFAULT_QUOTA_BYTES``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    used_bytes = models.BigIntegerField(default=0)
    quota_bytes = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.used_bytes} B"


# --- WebDAV and WOPI state ------------------------------------------------------------------------


class DeadProperty(models.Model):
    """A WebDAV dead property (PROPPATCH) of an item: ``name`` in Clark notation
    (``{namespace}local``), ``value`` the property's XML as text."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="dead_properties")
    name = models.CharField(max_length=512)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "name"], name="drive_deadprop_unique")]

    def __str__(self) -> str:
        return f"{self.name} on {self.item_id}"


class DavLock(models.Model):
    """A WebDAV lock (RFC 4918), shared by every server process: ``root`` is the locked
    resource's DAV path (a lock may cover a path that does not exist yet), ``data`` what the
    lock manager keeps about it."""

    token = models.CharField(max_length=255, primary_key=True)
    root = models.CharField(max_length=4096, db_index=True)
    data = models.JSONField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.token} on {self.root}"


class WopiLock(models.Model):
    """The WOPI lock of a file (one per file): an opaque id chosen by the office server,
    expiring after 30 minutes unless refreshed."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="wopi_lock")
    lock_id = models.CharField(max_length=1024)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"WOPI lock {self.lock_id[:20]} on {self.item_id}"


class ObjectDeletion(models.Model):
    """An S3 object (and its open multipart upload, if any) to delete: recorded in the
    transaction that drops the rows that knew it, deleted once that commits, and retried by
    a periodic task while S3 does not answer, so that no object is left behind unknown."""

    key = models.CharField(max_length=255)
    upload_id = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.key
