"""DAV resources over drive items: ``/dav/`` itself, folders, files, and the file a PUT is
about to create.

Every write goes through the drive services (``folder_create``, ``file_write``,
``item_move``, ``item_copy``, ``item_update``, ``item_trash``), which check the user's role
on the items each time; a service error becomes the matching DAV status
(``errors.problem_from``). WsgiDAV's own checks (locks, ``If:``, ``Overwrite``, Depth) run
before the provider is called, so the services are called with ``check_locks=False`` (they
would otherwise refuse what the client's own lock tokens allow). DELETE, MOVE and COPY are handled natively (``handle_*``):
one transaction each, whole subtrees at once.

- DELETE moves the item to the drive's trash (restorable from the web; editors and above,
  as in the REST API).
- MOVE/COPY of a file onto an existing file (``Overwrite: T``) adds the source's bytes as a
  new version of the destination (``file_replace``): desktop applications save by writing a
  temporary file and moving it over the original, and the original must keep its history,
  shares and links. Onto a folder, or of a folder, the destination first goes to the
  trash, as RFC 4918 (9.8.4, 9.9.3) requires a delete: recoverable, not destroyed.
- PROPPATCH needs the editor role; readers cannot LOCK (a write lock would block editors).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from wsgidav import util
from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from drive_app import quota
from drive_app.dav import namespace, properties
from drive_app.dav.errors import DavProblem, as_problem, problem_from
from drive_app.dav.session import CREATED_KEY, DavSession, session_of
from drive_app.dav.streams import BlobRangeReader, UploadWriter
from drive_app.models import FileVersion, Item, ItemType
from drive_app.services.items import (
    _sibling_with_title,
    clean_title,
    folder_create,
    item_copy,
    item_move,
    item_trash,
    item_update,
)
from drive_app.services.uploads import failed_upload, file_replace, file_write
from suite.access.resolve import annotate_roles
from suite.access.roles import Perm, role_allows
from suite.errors import SuiteError

T = TypeVar("T")
LOCK_PROPERTIES = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")
QUOTA_PROPERTIES = ("{DAV:}quota-used-bytes", "{DAV:}quota-available-bytes")


def dav_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Raise every failure of a provider operation as a :class:`DavProblem`: WsgiDAV turns
    exceptions of ``handle_*`` into responses itself, with the exception's own renderer
    (and logs through its own logger, which is silent: unexpected ones are logged here)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except DavProblem:
            raise
        except Exception as exc:  # noqa: BLE001 -- a service error, WsgiDAV's, or a bug (logged)
            raise as_problem(exc) from exc

    return wrapper


def service(session: DavSession, call: Callable[[], T]) -> T:
    """Run a drive service for this request: its error as a DAV error, and the request's
    caches forgotten (what was read before the write is stale)."""
    try:
        return call()
    except SuiteError as exc:
        raise problem_from(exc) from exc
    finally:
        session.invalidate()


class ItemBacked:
    """What every resource backed by a drive item shares: identity (canonical URL), dates,
    the user's role, dead properties, locks, DELETE/MOVE/COPY."""

    item: Item
    path: str
    name: str
    environ: dict[str, Any]
    provider: Any
    is_collection: bool

    @property
    def session(self) -> DavSession:
        return session_of(self.environ)

    @property
    def role(self) -> int | None:
        return getattr(self.item, "effective_role", None)

    @property
    def can_edit(self) -> bool:
        return role_allows(self.role, Perm.EDIT)

    # --- identity and live properties ------------------------------------------------------

    def get_ref_url(self) -> str:
        ref = namespace.ref_of(self.item)
        self.session.refs[ref] = self.item.pk
        return ref

    def get_creation_date(self) -> float:
        return self.item.created_at.timestamp()

    def get_last_modified(self) -> float:
        return self.item.updated_at.timestamp()

    def get_display_name(self) -> str:
        return self.name

    def prevent_locking(self) -> bool:
        return not self.can_edit

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = super().get_property_names(is_allprop=is_allprop)  # type: ignore[misc]
        if self.provider.lock_manager is not None:
            names += [name for name in LOCK_PROPERTIES if name not in names]
        if is_allprop:  # allprop covers RFC 4918's live properties; quotas are asked by name
            names = [name for name in names if name not in QUOTA_PROPERTIES]
        return names

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag":
            etag = self.get_etag()  # type: ignore[attr-defined]
            if etag is None:
                raise DAVError(404)
            return f'"{etag}"'  # RFC 4918 15.6: the entity tag, quoted as in the ETag header
        if name in QUOTA_PROPERTIES:
            value = self.get_used_bytes() if name == QUOTA_PROPERTIES[0] else self.get_available_bytes()  # type: ignore[attr-defined]
            if value is None:
                raise DAVError(404)
            return str(value)
        return super().get_property_value(name)  # type: ignore[misc]

    @dav_errors  # WsgiDAV writes a failure's text into the multistatus: ours, never Python's
    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if not self.can_edit:
            raise DavProblem(403, _("You cannot change the properties of this item."))
        if value is not None:
            properties.check_value(value)
        return super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]

    # --- quota (RFC 4331), on the collections of the user's own space ---------------------

    def _own_usage(self) -> Any:
        if not self.is_collection or self.item.quota_owner_id != self.session.user.pk:
            return None
        if self.session.usage is None:
            self.session.usage = quota.usage_of(self.session.user.pk)
        return self.session.usage

    def get_used_bytes(self) -> int | None:
        usage = self._own_usage()
        return None if usage is None else max(0, usage.used_bytes)

    def get_available_bytes(self) -> int | None:
        usage = self._own_usage()
        return None if usage is None else max(0, quota.limit_of(usage) - usage.used_bytes)

    # --- DELETE, MOVE, COPY ----------------------------------------------------------------------

    def _lock_storage(self) -> Any:
        return self.provider.lock_manager.storage

    @dav_errors
    def handle_delete(self) -> bool:
        # WsgiDAV checked the If: header and the parent's locks; a locked member of a
        # folder must stop the delete too (RFC 4918 9.6.1), unless its token was submitted.
        self.provider.lock_manager.check_write_permission(
            url=self.get_ref_url(), depth="infinity",
            token_list=self.environ.get("wsgidav.ifLockTokenList", []), principal=self.session.principal,
        )
        ref = self.get_ref_url()
        service(self.session, lambda: item_trash(actor=self.session.user, item_id=self.item.pk, check_locks=False))
        self._lock_storage().delete_under(ref)
        return True

    def delete(self) -> None:
        self.handle_delete()

    def _destination(self, dest_path: str) -> tuple[Any, str, Any]:
        """(parent resource, new name, existing resource or None) of a COPY/MOVE target.
        ``dest_path`` is WsgiDAV's parse of the Destination we handed it, which may hold
        escapes (``validation.destination_for_wsgidav``): the provider reads them back."""
        target = namespace.unescape_path(dest_path)
        # WsgiDAV's own test compared the escaped path with the source's: never equal.
        if util.is_equal_or_child_uri(self.environ.get("PATH_INFO") or "/", target):
            raise DavProblem(403, _("An item cannot be moved or copied onto itself or into itself."))
        parent = self.provider.get_resource_inst(util.get_uri_parent(dest_path), self.environ)
        if parent is None or not parent.is_collection:
            raise DavProblem(409, _("The destination folder does not exist."))
        name = namespace.normalize_name(util.get_uri_name(target))
        existing = self.provider.get_resource_inst(dest_path, self.environ)
        return parent, name, existing

    def _clear_destination(self, existing: Any) -> None:
        """Overwrite: T — the destination goes to the trash first (RFC 4918 9.8.4/9.9.3)."""
        if not isinstance(existing, ItemBacked) or isinstance(existing, RootCollection):
            raise DavProblem(403, _("This destination cannot be replaced."))
        if self.item.path.startswith(existing.item.path):
            raise DavProblem(409, _("An item cannot replace a folder that contains it."))
        ref = existing.get_ref_url()
        item_trash(actor=self.session.user, item_id=existing.item.pk, check_locks=False)
        self._lock_storage().delete_under(ref)

    def _file_replaced(self, parent: Any, name: str, existing: Any) -> Item | None:
        """The file a file moved or copied onto an existing file (``Overwrite: T``) gives its
        bytes to, as a new version, instead of being replaced by another item; or the file
        whose uploads all failed that holds the name unseen (not listed: nothing in it may be
        served), which the bytes then make whole."""
        if self.is_collection:
            return None
        if existing is None:
            folder = getattr(parent, "item", None)
            held = _sibling_with_title(folder, name) if folder is not None else None
            return held if failed_upload(held) else None
        if isinstance(existing, ItemBacked) and not existing.is_collection and existing.item.pk != self.item.pk:
            return existing.item
        return None

    @dav_errors
    def handle_move(self, dest_path: str) -> bool:
        user = self.session.user
        parent, name, existing = self._destination(dest_path)
        same = existing is not None and isinstance(existing, ItemBacked) and existing.item.pk == self.item.pk
        old_ref = self.get_ref_url()
        replaced = self._file_replaced(parent, name, existing)
        if replaced is not None:  # a desktop save: the temporary file becomes a version
            service(self.session, lambda: file_replace(
                actor=user, target_id=replaced.pk, source_id=self.item.pk, move=True, check_locks=False))
            self._lock_storage().delete_under(old_ref)
            self.environ[CREATED_KEY] = existing is None
            return True
        in_place = isinstance(parent, RootCollection) and namespace.is_shared_entry(self.session, self.item)

        def move() -> None:
            with transaction.atomic():
                if existing is not None and not same:
                    self._clear_destination(existing)
                title = self.item.title
                if not in_place and parent.item.pk != self.item.parent_id:
                    title = item_move(actor=user, item_id=self.item.pk, parent_id=parent.item.pk, on_conflict="rename",
                                      check_locks=False).title
                if title != name:
                    item_update(actor=user, item_id=self.item.pk, title=name, check_locks=False)

        service(self.session, move)
        self._lock_storage().delete_under(old_ref)  # RFC 4918 7.5: locks do not move
        self.environ[CREATED_KEY] = existing is None or same  # a rename in case creates a URL
        return True

    @dav_errors
    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        user = self.session.user
        parent, name, existing = self._destination(dest_path)
        if isinstance(existing, ItemBacked) and existing.item.pk == self.item.pk:
            raise DavProblem(403, _("An item cannot be copied onto itself."))
        title = clean_title(name)  # refused before any byte is copied
        replaced = self._file_replaced(parent, name, existing)
        if replaced is not None:
            service(self.session, lambda: file_replace(
                actor=user, target_id=replaced.pk, source_id=self.item.pk, move=False, check_locks=False))
            self.environ[CREATED_KEY] = existing is None
            return True

        def copy() -> None:
            with transaction.atomic():
                if existing is not None:
                    self._clear_destination(existing)
                if self.is_collection and not depth_infinity:
                    created = folder_create(actor=user, title=title, parent_id=parent.item.pk, check_locks=False)
                    properties.copy_subtree_properties(self.item, created, recursive=False)
                    return
                created = item_copy(actor=user, item_id=self.item.pk, parent_id=parent.item.pk, on_conflict="rename",
                                check_locks=False)
                if created.title != title:
                    item_update(actor=user, item_id=created.pk, title=title, check_locks=False)
                properties.copy_subtree_properties(self.item, created, recursive=self.is_collection)

        service(self.session, copy)
        self.environ[CREATED_KEY] = existing is None
        return True


class FolderLike(ItemBacked):
    """Members, creation of members (MKCOL, PUT of a new file, LOCK of a new name)."""

    def _member_items(self) -> list[Item]:
        items = list(
            annotate_roles(namespace.listable(Item.objects.filter(parent=self.item)), self.session.user)
            .order_by(Lower("title"), "pk")
        )
        for item in items:
            item.dav_name = item.title  # type: ignore[attr-defined]
        return items

    def get_member_list(self) -> list[Any]:
        members = [
            self.provider.resource_for(item, util.join_uri(self.path, item.dav_name), self.environ)  # type: ignore[attr-defined]
            for item in self._member_items()
        ]
        # What a PROPFIND asks every member for, in two queries for all of them.
        properties.prefetch([member.item.pk for member in members])
        if self.provider.lock_manager is not None:
            self._lock_storage().prefetch([member.get_ref_url() for member in members])
        return members

    def get_member_names(self) -> list[str]:
        return [member.name for member in self.get_member_list()]

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def support_recursive_delete(self) -> bool:
        return True

    @dav_errors
    def create_collection(self, name: str) -> None:
        service(self.session, lambda: folder_create(actor=self.session.user, title=name, parent_id=self.item.pk,
                                                        check_locks=False))

    @dav_errors
    def create_empty_resource(self, name: str) -> Any:
        """PUT: a placeholder the upload will create; LOCK on an unmapped URL: an empty
        file now (RFC 4918 9.10.4)."""
        path = util.join_uri(self.path, namespace.normalize_name(name))
        if self.environ.get("REQUEST_METHOD") == "PUT":
            return NewFile(path, self.environ, parent=self.item, title=namespace.normalize_name(name))
        created = service(
            self.session,
            lambda: file_write(actor=self.session.user, body=io.BytesIO(b""), size=0, parent_id=self.item.pk,
                               title=name, create_only=True),
        )
        resource = self.provider.get_resource_inst(path, self.environ)
        if resource is None:  # not ready (the scanner is down): still a resource to lock
            created = annotate_roles(Item.objects.filter(pk=created.pk), self.session.user).get()
            resource = self.provider.resource_for(created, path, self.environ)
        return resource


class RootCollection(FolderLike, DAVCollection):
    """``/dav/``: the user's workspace, plus one entry per item shared with them."""

    def __init__(self, environ: dict[str, Any]):
        DAVCollection.__init__(self, "/", environ)
        self.item = namespace.workspace(self.session)

    def get_display_name(self) -> str:
        return self.item.title

    def prevent_locking(self) -> bool:
        # Its canonical URL is the workspace's, which would not cover the shared entries.
        return True

    def _member_items(self) -> list[Item]:
        return list(namespace.root_entries(self.session).values())

    def handle_delete(self) -> bool:
        raise DavProblem(403, _("Your drive itself cannot be deleted."))

    def handle_move(self, dest_path: str) -> bool:
        raise DavProblem(403, _("Your drive itself cannot be moved."))

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise DavProblem(403, _("Copy the items of your drive, not the drive itself."))


class FolderResource(FolderLike, DAVCollection):
    def __init__(self, path: str, environ: dict[str, Any], item: Item):
        DAVCollection.__init__(self, path, environ)
        self.item = item


class FileResource(ItemBacked, DAVNonCollection):
    """A file: its current (ready) version, read from S3 with ranges; PUT adds a version."""

    def __init__(self, path: str, environ: dict[str, Any], item: Item):
        DAVNonCollection.__init__(self, path, environ)
        self.item = item

    def get_content_length(self) -> int:
        return self.item.size or 0

    def get_content_type(self) -> str:
        return self.item.mimetype or "application/octet-stream"

    def get_etag(self) -> str | None:
        return self.item.current_version_id.hex if self.item.current_version_id else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> BlobRangeReader:
        if self.item.current_version_id is None:
            raise DavProblem(404)
        key = getattr(self.item, "current_key", None) or (
            FileVersion.objects.values_list("key", flat=True).get(pk=self.item.current_version_id)
        )
        size = self.get_content_length()
        planned_end = None
        if self.environ.get("HTTP_RANGE") and size:
            ranges, _total = util.obtain_content_ranges(self.environ["HTTP_RANGE"], size)
            if ranges:
                planned_end = ranges[0][1]
        return BlobRangeReader(key, size, planned_end=planned_end)

    def begin_write(self, *, content_type: str | None = None) -> UploadWriter:
        return UploadWriter(actor=self.session.user, environ=self.environ, on_written=self._written,
                            item_id=self.item.pk)

    def _written(self, item: Item) -> None:
        self.session.invalidate()
        self.item = item


class NewFile(DAVNonCollection):
    """The file a PUT creates: nothing exists until its body has been stored and checked."""

    def __init__(self, path: str, environ: dict[str, Any], *, parent: Item, title: str):
        DAVNonCollection.__init__(self, path, environ)
        self.parent = parent
        self.title = title
        self.item: Item | None = None

    def get_ref_url(self) -> str:
        # Below the parent's canonical URL: the parent's locks apply to the new member.
        return f"{namespace.ref_of(self.parent)}/~{self.title}"

    def get_content_length(self) -> int:
        return (self.item.size or 0) if self.item is not None else 0

    def get_content_type(self) -> str:
        return (self.item.mimetype if self.item is not None else "") or "application/octet-stream"

    def get_content(self) -> Any:
        raise DavProblem(404)

    def get_etag(self) -> str | None:
        if self.item is None or self.item.current_version_id is None:
            return None
        return self.item.current_version_id.hex

    def support_etag(self) -> bool:
        return True

    def begin_write(self, *, content_type: str | None = None) -> UploadWriter:
        return UploadWriter(actor=session_of(self.environ).user, environ=self.environ, on_written=self._written,
                            parent=self.parent, title=self.title)

    def _written(self, item: Item) -> None:
        session_of(self.environ).invalidate()
        self.item = item


def resource_for(item: Item, path: str, environ: dict[str, Any]) -> FolderResource | FileResource:
    if item.type == ItemType.FOLDER:
        return FolderResource(path, environ, item)
    return FileResource(path, environ, item)
