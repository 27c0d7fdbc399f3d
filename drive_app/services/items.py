"""Writes on the drive tree: workspaces, folders, rename, move, copy, trash, restore, destroy,
purge, favorites and visits. Files and their bytes are in ``drive_app.services.uploads``.

Every service checks the actor's role on the objects it touches and owns its transaction.
Structural changes (move, trash, restore, destroy) hold the drive tree's advisory lock
(``suite.access.tree.lock_tree``), so they never interleave their path rewrites.
S3 objects are deleted only after the transaction that forgot them commits.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from drive_app import quota
from drive_app.models import (
    TITLE_MAX_LENGTH,
    Favorite,
    FileVersion,
    Item,
    ItemAccess,
    ItemType,
    UploadState,
    Visit,
)
from drive_app.permissions import access_item, not_ready
from drive_app.services import locks
from drive_app.services.deletions import forget_objects
from suite.access import tree
from suite.access.grants import link_update
from suite.access.models import PATH_STEP
from suite.access.resolve import annotate_roles, effective_role
from suite.access.roles import Perm, Role, role_allows
from suite.errors import Conflict, NotFound, PermissionDenied, SuiteError, ValidationFailed
from suite.storage import get_blob_store

ROOT_SEQUENCE = "drive_item_root_seq"
CONFLICT_POLICIES = ("error", "rename")
_SUFFIX = re.compile(r"^(?P<stem>.*?) \((?P<n>\d+)\)$")


# --- titles -------------------------------------------------------------------------------------


def clean_title(title: Any) -> str:
    """A valid item title (NFC-normalized, surrounding spaces removed), or a 422 naming what is
    wrong: empty, too long, ``.``/``..``, a ``/`` or ``\\``, or a control character."""
    if not isinstance(title, str):
        raise ValidationFailed(_("The title must be a string."), details={"field": "title"})
    cleaned = unicodedata.normalize("NFC", title).strip()
    problem = None
    if not cleaned:
        problem = _("The title cannot be empty.")
    elif len(cleaned) > TITLE_MAX_LENGTH:
        problem = _("The title is longer than %(max)s characters.") % {"max": TITLE_MAX_LENGTH}
    elif cleaned in {".", ".."}:
        problem = _("“.” and “..” are not valid titles.")
    elif "/" in cleaned or "\\" in cleaned:
        problem = _("A title cannot contain “/” or “\\”.")
    elif any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} and ch != "\u200d" for ch in cleaned):
        problem = _("A title cannot contain control characters.")
    if problem:
        raise ValidationFailed(problem, code="invalid_title", status=422, details={"field": "title"})
    return cleaned


def _sibling_with_title(parent: Item, title: str, *, exclude: Any = None) -> Item | None:
    queryset = Item.objects.filter(
        parent=parent, ancestors_deleted_at__isnull=True
    ).annotate(lower_title=Lower("title")).filter(lower_title=Lower(Value(title)))  # as the unique index folds
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.first()


def _suffixed(title: str, number: int) -> str:
    stem, dot, extension = title.rpartition(".")
    if not dot or not stem:  # no extension (or a dotfile): the suffix goes at the end
        stem, extension = title, ""
    match = _SUFFIX.match(stem)
    if match:
        stem = match.group("stem")
    suffix = f" ({number})"
    if extension and len(extension) + 1 + len(suffix) + 1 > TITLE_MAX_LENGTH:
        stem, extension = title, ""  # an extension too long to keep: the suffix goes at the end
    base = stem[: TITLE_MAX_LENGTH - len(suffix) - (len(extension) + 1 if extension else 0)]
    return f"{base}{suffix}.{extension}" if extension else f"{base}{suffix}"


def free_title(parent: Item, title: str, *, exclude: Any = None) -> str:
    """``title``, or ``title (2)``, ``title (3)``... : the first one no live sibling uses."""
    candidate, number = title, 1
    while _sibling_with_title(parent, candidate, exclude=exclude) is not None:
        number += 1
        candidate = _suffixed(title, number)
    return candidate


def title_conflict(existing: Item) -> Conflict:
    return Conflict(
        _("An item with this title already exists here."),
        code="title_conflict",
        details={"existing": str(existing.pk), "type": existing.type},
    )


def resolve_title(parent: Item, title: str, on_conflict: str, *, exclude: Any = None) -> str:
    if on_conflict not in CONFLICT_POLICIES:
        raise ValidationFailed(
            _("on_conflict must be one of: %(choices)s.") % {"choices": ", ".join(CONFLICT_POLICIES)},
            details={"field": "on_conflict"},
        )
    existing = _sibling_with_title(parent, title, exclude=exclude)
    if existing is None:
        return title
    if on_conflict == "rename":
        return free_title(parent, title, exclude=exclude)
    raise title_conflict(existing)


# --- workspaces and folders -----------------------------------------------------------------------


def workspace_for(user: Any) -> Item:
    """The user's personal root folder, created on first use (safe against a concurrent
    first use: the second creator finds the first one's)."""
    existing = Item.objects.filter(workspace_owner=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            path = tree.new_root_path(ROOT_SEQUENCE)
            root = Item.objects.create(
                type=ItemType.FOLDER,
                title=_("My files"),
                path=path,
                depth=1,
                workspace_owner=user,
                quota_owner=user,
                creator=user,
            )
            ItemAccess.objects.create(resource=root, user=user, role=Role.OWNER)
            return root
    except IntegrityError:
        return Item.objects.get(workspace_owner=user)


def parent_for(actor: Any, parent_id: Any, *, need: Perm = Perm.EDIT) -> Item:
    """The folder to create into: ``parent_id``, or the actor's workspace when ``None``."""
    if parent_id is None:
        if not getattr(actor, "is_authenticated", False):
            raise PermissionDenied()
        # One query: the workspace with the actor's role on it (created on first use).
        workspace = annotate_roles(Item.objects.filter(workspace_owner=actor), actor).first()
        if workspace is None:
            return access_item(actor, workspace_for(actor).pk, need=need)
        return workspace
    parent = access_item(actor, parent_id, need=need)
    if parent.type != ItemType.FOLDER:
        raise ValidationFailed(_("The parent must be a folder."), code="parent_not_folder",
                               details={"field": "parent"})
    return parent


def new_child(parent: Item, *, actor: Any, savepoint: bool = True, **fields: Any) -> Item:
    """Insert an item under ``parent`` (call inside a transaction, title already resolved).
    A title taken meanwhile is a 409; ``savepoint=False`` saves the two statements of the
    savepoint that keeps the transaction usable to say so: the caller's transaction is then
    broken and the caller reports the conflict after it (:func:`conflict_after`)."""
    if parent.depth >= tree.MAX_DEPTH:
        raise SuiteError(_("The tree is too deep here."), code="too_deep", status=400)
    path = tree.new_child_path(Item, parent.pk)
    if not savepoint:
        return Item.objects.create(
            path=path, depth=len(path) // PATH_STEP, parent=parent, quota_owner_id=parent.quota_owner_id,
            creator=actor if getattr(actor, "is_authenticated", False) else None, **fields,
        )
    try:
        with transaction.atomic():
            return Item.objects.create(
                path=path,
                depth=len(path) // PATH_STEP,
                parent=parent,
                quota_owner_id=parent.quota_owner_id,
                creator=actor if getattr(actor, "is_authenticated", False) else None,
                **fields,
            )
    except IntegrityError as exc:  # a concurrent request took the title meanwhile
        existing = _sibling_with_title(parent, fields["title"])
        if existing is not None:
            raise title_conflict(existing) from exc
        raise


def conflict_after(error: IntegrityError, parent_id: Any, title: str) -> Exception:
    """What an insert that broke its transaction (``new_child(savepoint=False)``) means, once
    that transaction is rolled back: a 409 when the title is taken, else the error itself."""
    existing = _sibling_with_title(Item(pk=parent_id), title)
    return title_conflict(existing) if existing is not None else error


def folder_create(
    *, actor: Any, title: Any, parent_id: Any = None, on_conflict: str = "error", check_locks: bool = True
) -> Item:
    """A new folder. ``check_locks``: refuse while the parent is locked (``services.locks``;
    False for the WebDAV layer, which checked the client's own lock tokens)."""
    title = clean_title(title)
    with transaction.atomic():
        parent = parent_for(actor, parent_id)
        if check_locks:
            locks.refuse_adding_to(parent)
        title = resolve_title(parent, title, on_conflict)
        return new_child(parent, actor=actor, type=ItemType.FOLDER, title=title)


def item_update(
    *,
    actor: Any,
    item_id: Any,
    title: Any = None,
    on_conflict: str = "error",
    link_reach: str | None = None,
    link_role: str | None = None,
    request: Any = None,
    check_locks: bool = True,
) -> Item:
    """Rename an item (EDIT) and/or change its link reach and role (SHARE, through the shared
    access layer: audited, announced). A rename waits for the locks on the item, below it
    and on its folder (``check_locks``: see ``folder_create``)."""
    with transaction.atomic():
        item = access_item(actor, item_id, need=Perm.EDIT if title is not None else Perm.VIEW)
        if link_reach is not None or link_role is not None:
            link_update(actor=actor, resource=item, link_reach=link_reach, link_role=link_role, request=request)
        if title is not None and item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be renamed."))
        if title is not None:
            new_title = clean_title(title)
            assert item.parent is not None
            if check_locks:
                locks.refuse_changing(item, folders=(item.parent,))
            new_title = resolve_title(item.parent, new_title, on_conflict, exclude=item.pk)
            try:
                with transaction.atomic():
                    Item.objects.filter(pk=item.pk).update(title=new_title, updated_at=timezone.now())
            except IntegrityError as exc:
                raise title_conflict(_sibling_with_title(item.parent, new_title) or item) from exc
    return item


#: Visits of one item by one user closer together than this are recorded once.
VISIT_RESOLUTION_SECONDS = 60


def item_visit(*, actor: Any, item: Item) -> None:
    """Remember that ``actor`` opened ``item`` now (for "recent"); repeated opens within
    :data:`VISIT_RESOLUTION_SECONDS` cost a cache lookup, not a database write."""
    if not getattr(actor, "is_authenticated", False):
        return
    if cache.add(f"drive-visit:{actor.pk}:{item.pk}", 1, VISIT_RESOLUTION_SECONDS):
        # One INSERT ... ON CONFLICT DO UPDATE (no transaction, lock and savepoint around it).
        Visit.objects.bulk_create(
            [Visit(user=actor, item=item, visited_at=timezone.now())],
            update_conflicts=True, unique_fields=["user", "item"], update_fields=["visited_at"],
        )


# --- move and copy ----------------------------------------------------------------------------------


def _charged_bytes(subtree: Q) -> list[tuple[Any, int]]:
    """(quota owner, bytes) charged for the versions of the items in ``subtree``."""
    rows = (
        FileVersion.objects.filter(item__in=Item.objects.filter(subtree))
        .values("item__quota_owner")
        .annotate(total=Sum("charged_bytes"))
    )
    return [(row["item__quota_owner"], row["total"] or 0) for row in rows]


def item_move(
    *, actor: Any, item_id: Any, parent_id: Any, on_conflict: str = "error", check_locks: bool = True
) -> Item:
    """Move an item (and its subtree) into another folder. Needs EDIT on the item and on the
    target; never into itself or its own subtree. Bytes change quota owner when the move
    crosses workspaces (the target owner's quota must hold them). Waits for the locks on the
    item, below it, and on both folders (``check_locks``: see ``folder_create``).

    Moving takes the item out of its folder, so the actor must be able to edit that folder
    too (an item shared with someone is not theirs to take out of its owner's tree), and
    moving it into another person's drive hands it over: owners only (an editor of a shared
    folder must not make its files theirs, then delete them for good)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be moved."))
        target = parent_for(actor, parent_id)
        if target.pk != item.parent_id:
            check_may_take_out(actor, item, target.quota_owner_id)
        if target.path.startswith(item.path):
            raise SuiteError(
                _("An item cannot be moved into itself or its own subtree."),
                code="invalid_move", status=400, details={"field": "parent"},
            )
        if target.pk == item.parent_id:
            return item
        if check_locks:
            locks.refuse_changing(item, folders=(item.parent, target))
        depth_below = (
            Item.objects.filter(path__startswith=item.path).order_by("-depth").values_list("depth", flat=True).first()
            or item.depth
        ) - item.depth
        if target.depth + 1 + depth_below > tree.MAX_DEPTH:
            raise SuiteError(_("The tree is too deep here."), code="too_deep", status=400)
        title = resolve_title(target, item.title, on_conflict, exclude=item.pk)
        subtree = Q(path__startswith=item.path)
        if target.quota_owner_id != item.quota_owner_id:
            for owner_id, size in _charged_bytes(subtree):
                quota.charge(target.quota_owner_id, size)
                quota.release(owner_id, size)
            Item.objects.filter(subtree).update(quota_owner_id=target.quota_owner_id)
        new_path = tree.new_child_path(Item, target.pk)
        try:  # a title taken meanwhile by a concurrent create breaks the unique index: a 409
            with transaction.atomic():
                Item.objects.filter(pk=item.pk).update(parent=target, title=title, updated_at=timezone.now())
                tree.rewrite_subtree(Item, item.path, new_path)
        except IntegrityError as exc:
            existing = _sibling_with_title(target, title, exclude=item.pk)
            raise title_conflict(existing or item) from exc
    return access_item(actor, item.pk)


def check_may_take_out(actor: Any, item: Item, quota_owner_id: Any) -> None:
    """``actor`` (EDIT on ``item``) is about to take ``item`` out of its folder into a folder
    of ``quota_owner_id``'s drive: they must be able to edit the folder it leaves, and only
    an owner of the item may hand it over to another person's drive (see ``item_move``)."""
    assert item.parent is not None
    if not role_allows(effective_role(actor, item.parent), Perm.EDIT):
        raise PermissionDenied(_("You cannot move this item out of its folder: you can only edit the item."))
    if quota_owner_id != item.quota_owner_id and not role_allows(effective_role(actor, item), Perm.DESTROY):
        raise PermissionDenied(_("Only an owner of this item can move it to another person's drive."))


def item_copy(
    *, actor: Any, item_id: Any, parent_id: Any = None, on_conflict: str = "rename", check_locks: bool = True
) -> Item:
    """Copy an item (a folder with its subtree) into a folder. Only ready file versions are
    copied (the current one), as new S3 objects; the copier becomes the creator, accesses
    are not copied (the copy inherits the target's). Charged to the target's quota owner.
    Refused while the target is locked (``check_locks``: see ``folder_create``)."""
    store = get_blob_store()
    copied_keys: list[str] = []
    try:
        with transaction.atomic():
            source = access_item(actor, item_id, need=Perm.VIEW)
            target = parent_for(actor, parent_id)
            if target.path.startswith(source.path):
                raise SuiteError(_("A folder cannot be copied into itself."), code="invalid_copy",
                                 status=400, details={"field": "parent"})
            if source.type == ItemType.FILE and source.current_version_id is None:
                raise not_ready(source)
            if check_locks:
                locks.refuse_adding_to(target)
            title = resolve_title(target, source.title, on_conflict)
            subtree = list(
                Item.objects.filter(path__startswith=source.path, ancestors_deleted_at__isnull=True)
                .select_related("current_version")
                .order_by("depth", "path")
            )
            copies: dict[Any, Item] = {}
            for node in subtree:
                parent = target if node.pk == source.pk else copies.get(node.parent_id)
                if parent is None:
                    continue
                fields: dict[str, Any] = {"type": node.type, "title": title if node.pk == source.pk else node.title}
                version = node.current_version
                if node.type == ItemType.FILE:
                    if version is None:
                        continue  # nothing ready to copy
                    fields.update(size=version.size, mimetype=version.mimetype, sha256=version.sha256,
                                  upload_state=UploadState.READY)
                copy = new_child(parent, actor=actor, **fields)
                copies[node.pk] = copy
                if version is not None and node.type == ItemType.FILE:
                    key = store.new_key("drive")
                    quota.charge(target.quota_owner_id, version.size or 0)
                    store.copy(version.key, key)
                    copied_keys.append(key)
                    new_version = FileVersion.objects.create(
                        item=copy, number=1, key=key, state=UploadState.READY,
                        declared_size=version.size or 0, size=version.size, mimetype=version.mimetype,
                        sha256=version.sha256, charged_bytes=version.size or 0,
                        uploaded_by=actor, uploaded_at=timezone.now(),
                    )
                    Item.objects.filter(pk=copy.pk).update(current_version=new_version)
    except BaseException:
        if copied_keys:
            store.delete_many(copied_keys)
        raise
    return access_item(actor, copies[source.pk].pk)


# --- trash, restore, destroy -----------------------------------------------------------------------


def item_trash(*, actor: Any, item_id: Any, check_locks: bool = True) -> None:
    """Move an item and its subtree to the trash (bytes stay charged until purged). Waits for
    the locks on the item, below it and on its folder (``check_locks``: see ``folder_create``)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be deleted."))
        if check_locks:
            locks.refuse_changing(item, folders=(item.parent,))
        now = timezone.now()
        Item.objects.filter(pk=item.pk).update(deleted_at=now)
        tree.mark_subtree_deleted(Item, item.path, now)


def item_restore(*, actor: Any, item_id: Any) -> Item:
    """Bring an item back from the trash with what was trashed with it. If a live sibling
    took its title meanwhile, the restored item gets a free title (``name (2)``)."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.EDIT, include_deleted=True)
        if item.deleted_at is None:
            if item.ancestors_deleted_at is not None:
                raise Conflict(_("This item was deleted with its folder: restore the folder."),
                               code="ancestor_in_trash")
            raise Conflict(_("This item is not in the trash."), code="not_in_trash")
        if Item.objects.filter(path__in=item.ancestor_paths[:-1], ancestors_deleted_at__isnull=False).exists():
            raise Conflict(_("A folder above this item is in the trash: restore it first."),
                           code="ancestor_in_trash")
        assert item.parent is not None
        locks.refuse_adding_to(item.parent)
        title = free_title(item.parent, item.title, exclude=item.pk)
        Item.objects.filter(pk=item.pk).update(title=title)  # free while still in the trash
        Item.objects.filter(path__startswith=item.path, ancestors_deleted_at=item.deleted_at).update(
            ancestors_deleted_at=None
        )
        try:  # a title taken meanwhile by a concurrent create: a 409, nothing restored
            with transaction.atomic():
                Item.objects.filter(pk=item.pk).update(deleted_at=None, ancestors_deleted_at=None)
        except IntegrityError as exc:
            raise title_conflict(_sibling_with_title(item.parent, title, exclude=item.pk) or item) from exc
    return access_item(actor, item.pk)


def destroy_subtree(item: Item) -> int:
    """Delete ``item`` and its subtree for good: rows now, S3 objects after commit, bytes
    released from their quota owners. Call with the tree lock held."""
    subtree = Q(path__startswith=item.path)
    versions = FileVersion.objects.filter(item__in=Item.objects.filter(subtree))
    keys = [key for pair in versions.values_list("key", "preview_key") for key in pair if key]
    uploads = [(key, upload) for key, upload in versions.exclude(multipart_upload_id="").values_list(
        "key", "multipart_upload_id")]
    for owner_id, size in _charged_bytes(subtree):
        quota.release(owner_id, size)
    count, _per_model = Item.objects.filter(subtree).delete()
    forget_objects(keys, uploads)
    return count


def item_destroy(*, actor: Any, item_id: Any) -> None:
    """Delete an item (in the trash or not) and its subtree for good. Owners only."""
    with transaction.atomic():
        tree.lock_tree(Item)
        item = access_item(actor, item_id, need=Perm.DESTROY, include_deleted=True)
        if item.workspace_owner_id is not None:
            raise PermissionDenied(_("A workspace cannot be deleted."))
        if item.deleted_at is None and item.ancestors_deleted_at is None:  # in the trash: no lock
            locks.refuse_changing(item, folders=(item.parent,))
        destroy_subtree(item)


def trash_purge(*, now: dt.datetime | None = None, batch: int = 100) -> int:
    """Destroy what was trashed more than ``DRIVE_TRASH_DAYS`` ago, S3 objects included
    (idempotent). Returns the number of trashed subtrees destroyed."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.DRIVE_TRASH_DAYS)
    destroyed = 0
    while True:
        with transaction.atomic():
            tree.lock_tree(Item)
            expired = list(Item.objects.filter(deleted_at__lt=cutoff).order_by("depth", "path")[:batch])
            for item in expired:
                if Item.objects.filter(pk=item.pk).exists():
                    destroy_subtree(item)
                    destroyed += 1
        if len(expired) < batch:
            return destroyed


# --- favorites ------------------------------------------------------------------------------------------


def favorite_add(*, actor: Any, item_id: Any) -> Item:
    item = access_item(actor, item_id)
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    Favorite.objects.get_or_create(user=actor, item=item)
    return item


def favorite_remove(*, actor: Any, item_id: Any) -> Item:
    item = access_item(actor, item_id)
    deleted, _per_model = Favorite.objects.filter(user=actor, item=item).delete()
    if not deleted:
        raise NotFound(_("This item is not among your favorites."))
    return item
