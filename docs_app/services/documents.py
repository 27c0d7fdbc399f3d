"""Writes on documents: create, update, trash/restore/destroy, move, duplicate, favorites,
visits, and the trash purge.

Every service checks access with ``access_document`` inside its transaction and publishes its
platform event there (delivered after commit). Structural changes (anything that allocates or
rewrites paths, or deletes subtrees) hold the tree lock (``docs_app.tree.lock_tree``) and
re-read the documents they touch after taking it, so concurrent moves are serialized on fresh
paths (see docs/decisions/0009-documents-tree.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from docs_app.events import (
    DocumentCreated,
    DocumentDeleted,
    DocumentDestroyed,
    DocumentMoved,
    DocumentRestored,
    DocumentUpdated,
)
from docs_app.models import TITLE_MAX_LENGTH, Document, DocumentAccess, Favorite, Visit
from docs_app.permissions import access_document, documents
from docs_app.selectors.documents import parent_id_of
from docs_app.tree import MAX_DEPTH, lock_tree, new_child_path, new_root_path, rewrite_subtree
from suite.access import tree
from suite.access.epoch import access_changed
from suite.access.grants import link_update
from suite.access.models import PATH_STEP
from suite.access.resolve import parse_pk
from suite.access.roles import Perm, Role, role_allows
from suite.errors import Conflict, NotFound, PermissionDenied, SuiteError
from suite.events import publish


class InvalidMove(SuiteError):
    """A move that would break the tree (into its own subtree, too deep, bad sibling)."""

    code = "invalid_move"
    status = 400


# Below this gap between two neighbours, the siblings are renumbered 1..n (a float has ~52
# bits: about 50 insertions at the same spot before the midpoint stops being distinct).
MIN_POSITION_GAP = 1e-9


# --- sibling positions ------------------------------------------------------------------------


def _siblings(parent_path: str | None) -> QuerySet[Document]:
    if parent_path is None:
        return Document.objects.filter(depth=1)
    return Document.objects.filter(
        path__startswith=parent_path, depth=len(parent_path) // PATH_STEP + 1
    )


def _last_position(parent_path: str | None) -> float:
    if parent_path is None:
        # Roots are everyone's top-level documents: a creation timestamp orders them without
        # scanning all the roots of the instance.
        return timezone.now().timestamp()
    last = _siblings(parent_path).aggregate(last=Max("position"))["last"]
    return 1.0 if last is None else last + 1.0


def _renumber(parent_path: str | None) -> None:
    """Spread the positions of the siblings under ``parent_path`` to 1, 2, 3... (same
    order)."""
    siblings = list(_siblings(parent_path).order_by("position", "path").only("pk", "position"))
    for number, sibling in enumerate(siblings, start=1):
        sibling.position = float(number)
    Document.objects.bulk_update(siblings, ["position"], batch_size=1000)


def _position_next_to(
    sibling: Document, *, after: bool, exclude: Any = None, retry: bool = True
) -> float:
    """A position right after (or before) ``sibling`` among its siblings."""
    parent_path = sibling.parent_path
    neighbours = _siblings(parent_path).exclude(pk=sibling.pk)
    if exclude is not None:
        neighbours = neighbours.exclude(pk=exclude)
    if after:
        neighbour = neighbours.filter(position__gte=sibling.position).order_by("position").first()
        default = sibling.position + 1.0
    else:
        neighbour = neighbours.filter(position__lte=sibling.position).order_by("-position").first()
        default = sibling.position - 1.0
    if neighbour is None:
        return default
    if abs(neighbour.position - sibling.position) < MIN_POSITION_GAP and retry:
        _renumber(parent_path)
        sibling.refresh_from_db(fields=["position"])
        return _position_next_to(sibling, after=after, exclude=exclude, retry=False)
    return (neighbour.position + sibling.position) / 2


# --- create, read, update ---------------------------------------------------------------------


def document_create(*, actor: Any, title: str = "", parent_id: Any = None) -> Document:
    """A new document, last among its siblings. A root's creator becomes its owner; a child
    needs EDIT on its parent and inherits its accesses (none is added)."""
    with transaction.atomic():
        if parent_id is None:
            path, parent_path = new_root_path(), None
        else:
            parent = access_document(actor, parent_id, need=Perm.EDIT)
            if parent.depth >= MAX_DEPTH:
                raise SuiteError(_("The tree is too deep here."), code="too_deep", status=400)
            path, parent_path = new_child_path(parent.pk), parent.path
        document = Document.objects.create(
            path=path,
            depth=len(path) // PATH_STEP,
            title=title,
            creator=actor,
            position=_last_position(parent_path),
        )
        if parent_id is None:
            DocumentAccess.objects.create(resource=document, user=actor, role=Role.OWNER)
        publish(
            DocumentCreated(
                actor_id=actor.pk,
                document_id=document.pk,
                parent_id=None if parent_id is None else parent.pk,
            )
        )
    return document


def document_visit(*, actor: Any, document: Document) -> None:
    """Remember that ``actor`` opened ``document`` now (for "recently visited")."""
    if not getattr(actor, "is_authenticated", False):
        return
    Visit.objects.bulk_create(
        [Visit(user_id=actor.pk, document_id=document.pk, visited_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user", "document"],
        update_fields=["visited_at"],
    )


def document_update(
    *,
    actor: Any,
    document_id: Any,
    title: str | None = None,
    excerpt: str | None = None,
    link_reach: str | None = None,
    link_role: str | None = None,
    request: Any = None,
) -> Document:
    """Title and excerpt need EDIT; link settings need SHARE (checked by the access layer)."""
    with transaction.atomic():
        document = access_document(actor, document_id, need=Perm.VIEW)
        changed = []
        if title is not None or excerpt is not None:
            if not role_allows(document.effective_role, Perm.EDIT):  # type: ignore[attr-defined]
                raise PermissionDenied(_("Only editors can change a document."))
            if title is not None:
                document.title = title
                changed.append("title")
            if excerpt is not None:
                document.excerpt = excerpt
                changed.append("excerpt")
            document.save(update_fields=[*changed, "updated_at"])
        if link_reach is not None or link_role is not None:
            link_update(
                actor=actor, resource=document, link_reach=link_reach, link_role=link_role,
                request=request,
            )
            changed += [f for f, v in (("link_reach", link_reach), ("link_role", link_role)) if v]
            Document.objects.filter(pk=document.pk).update(updated_at=timezone.now())
        if changed:
            publish(DocumentUpdated(actor_id=actor.pk, document_id=document.pk, fields=changed))
    return document


# --- trash ------------------------------------------------------------------------------------


def document_delete(*, actor: Any, document_id: Any) -> None:
    """Move a document and its subtree to the trash. Descendants already in the trash keep
    their own deletion time, so restoring this document leaves them there."""
    with transaction.atomic():
        lock_tree()
        document = access_document(actor, document_id, need=Perm.DELETE)
        now = timezone.now()
        Document.objects.filter(pk=document.pk).update(deleted_at=now)
        tree.mark_subtree_deleted(Document, document.path, now)
        publish(DocumentDeleted(actor_id=actor.pk, document_id=document.pk))
        access_changed()  # editing sessions of the subtree end


def document_restore(*, actor: Any, document_id: Any) -> Document:
    """Bring a deleted document and what was deleted with it back from the trash."""
    with transaction.atomic():
        lock_tree()
        document = access_document(actor, document_id, need=Perm.DELETE, include_deleted=True)
        if document.deleted_at is None:
            if document.ancestors_deleted_at is not None:
                raise Conflict(
                    _("This document was deleted with an ancestor: restore the ancestor."),
                    code="ancestor_in_trash",
                )
            raise Conflict(_("This document is not in the trash."), code="not_in_trash")
        ancestors = document.ancestor_paths[:-1]
        if Document.objects.filter(path__in=ancestors, ancestors_deleted_at__isnull=False).exists():
            raise Conflict(
                _("An ancestor of this document is in the trash: restore it first."),
                code="ancestor_in_trash",
            )
        Document.objects.filter(
            path__startswith=document.path, ancestors_deleted_at=document.deleted_at
        ).update(ancestors_deleted_at=None)
        Document.objects.filter(pk=document.pk).update(deleted_at=None, ancestors_deleted_at=None)
        publish(DocumentRestored(actor_id=actor.pk, document_id=document.pk))
    document.refresh_from_db()
    return document


def _destroy_subtree(document: Document, *, actor_id: Any = None) -> int:
    """Delete ``document`` and its subtree for good (tree lock held by the caller)."""
    subtree = Document.objects.filter(path__startswith=document.path)
    descendant_ids = list(subtree.exclude(pk=document.pk).values_list("pk", flat=True))
    count, _per_model = subtree.delete()
    publish(
        DocumentDestroyed(actor_id=actor_id, document_id=document.pk, descendant_ids=descendant_ids)
    )
    return count


def document_destroy(*, actor: Any, document_id: Any) -> None:
    """Delete a document (in the trash or not) and its subtree for good. Owners only."""
    with transaction.atomic():
        lock_tree()
        document = access_document(actor, document_id, need=Perm.DESTROY, include_deleted=True)
        _destroy_subtree(document, actor_id=actor.pk)
        access_changed()


def trash_purge(*, now: dt.datetime | None = None, batch: int = 100) -> int:
    """Destroy the documents deleted more than ``DOCS_TRASH_DAYS`` ago (idempotent: what is
    gone is simply not found again). Returns the number of trashed subtrees destroyed."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.DOCS_TRASH_DAYS)
    destroyed = 0
    while True:
        with transaction.atomic():
            lock_tree()
            # Shallowest first: destroying a subtree also removes older trash inside it.
            expired = list(
                Document.objects.filter(deleted_at__lt=cutoff).order_by("depth", "path")[:batch]
            )
            for document in expired:
                if Document.objects.filter(pk=document.pk).exists():
                    _destroy_subtree(document)
                    destroyed += 1
        if len(expired) < batch:
            return destroyed


# --- move -------------------------------------------------------------------------------------


def _sibling_anchor(sibling_id: Any, parent_path: str | None, document: Document) -> Document:
    pk = parse_pk(Document, sibling_id)
    sibling = documents().filter(pk=pk).first() if pk is not None else None
    if sibling is None or sibling.pk == document.pk or sibling.parent_path != parent_path:
        raise InvalidMove(
            _("The sibling to place the document next to is not a child of the target."),
            details={"sibling": str(sibling_id)},
        )
    return sibling


def document_move(
    *,
    actor: Any,
    document_id: Any,
    parent_id: Any = None,
    before_id: Any = None,
    after_id: Any = None,
) -> Document:
    """Move a document (with its subtree) under ``parent_id`` (None: to the root), right
    before/after a sibling or last. Needs administrator on the document and editor on the
    target; moving to the root needs owner and makes the mover an explicit owner."""
    if before_id is not None and after_id is not None:
        raise InvalidMove(_("Give either before or after, not both."))
    with transaction.atomic():
        lock_tree()
        # Read after the lock: a concurrent move may just have rewritten these paths.
        document = access_document(actor, document_id, need=Perm.DELETE)
        old_parent_id = parent_id_of(document)
        if parent_id is None:
            if not role_allows(document.effective_role, Perm.DESTROY):  # type: ignore[attr-defined]
                raise PermissionDenied(_("Only an owner can move a document to the root."))
            target, target_path = None, None
        else:
            target = access_document(actor, parent_id, need=Perm.EDIT)
            if target.path.startswith(document.path):
                raise InvalidMove(
                    _("A document cannot be moved into itself or its own subtree."),
                    details={"parent": str(parent_id)},
                )
            target_path = target.path
        anchor = None
        if before_id is not None or after_id is not None:
            anchor = _sibling_anchor(before_id or after_id, target_path, document)
        if document.parent_path != target_path:
            deepest = (
                Document.objects.filter(path__startswith=document.path)
                .aggregate(deepest=Max("depth"))["deepest"]
            )
            new_depth = 1 if target is None else target.depth + 1
            if deepest - document.depth + new_depth > MAX_DEPTH:
                raise InvalidMove(_("The tree would become too deep."))
            new_path = new_root_path() if target is None else new_child_path(target.pk)
            rewrite_subtree(document.path, new_path)
            document.refresh_from_db(fields=["path", "depth"])
        if anchor is not None:
            anchor.refresh_from_db(fields=["path", "position"])
            position = _position_next_to(anchor, after=after_id is not None, exclude=document.pk)
        else:
            position = _last_position_excluding(target_path, document)
        Document.objects.filter(pk=document.pk).update(position=position, updated_at=timezone.now())
        if target is None:
            DocumentAccess.objects.update_or_create(
                resource=document, user=actor, defaults={"role": Role.OWNER}
            )
        publish(
            DocumentMoved(
                actor_id=actor.pk,
                document_id=document.pk,
                old_parent_id=old_parent_id,
                new_parent_id=None if target is None else target.pk,
            )
        )
        access_changed()  # the subtree inherits other accesses now
    document.refresh_from_db()
    return document


def _last_position_excluding(parent_path: str | None, document: Document) -> float:
    if parent_path is None:
        return timezone.now().timestamp()
    last = _siblings(parent_path).exclude(pk=document.pk).aggregate(last=Max("position"))["last"]
    return 1.0 if last is None else last + 1.0


# --- duplicate --------------------------------------------------------------------------------


def _copy_title(title: str) -> str:
    return (_("Copy of %(title)s") % {"title": title} if title else title)[:TITLE_MAX_LENGTH]


def document_duplicate(*, actor: Any, document_id: Any, with_descendants: bool = False) -> Document:
    """Copy a document (and, if asked, its live descendants) right after the original.

    Needs VIEW on the source and EDIT on its parent (a root copy needs no parent). Accesses
    are inherited, not copied, except on a root copy: its duplicator becomes owner, and a
    duplicator who may share the source (administrator, owner) also gets the source's own
    accesses and link settings copied — what they could have set up themselves."""
    with transaction.atomic():
        lock_tree()
        source = access_document(actor, document_id, need=Perm.VIEW)
        if not getattr(actor, "is_authenticated", False):
            raise PermissionDenied()
        may_share = role_allows(source.effective_role, Perm.SHARE)  # type: ignore[attr-defined]
        parent_path = source.parent_path
        if parent_path is not None:
            parent = Document.objects.filter(path=parent_path).get()
            try:
                access_document(actor, parent.pk, need=Perm.EDIT)
            except NotFound:
                raise PermissionDenied(
                    _("You need to be an editor of the parent document to duplicate here.")
                ) from None
            new_path = new_child_path(parent.pk)
        else:
            new_path = new_root_path()
        copy = Document.objects.create(
            path=new_path,
            depth=source.depth,
            title=_copy_title(source.title),
            excerpt=source.excerpt,
            creator=actor,
            position=_position_next_to(source, after=True),
            child_counter=source.child_counter if with_descendants else 0,
            link_reach=source.link_reach if may_share else Document._meta.get_field("link_reach").default,
            link_role=source.link_role if may_share else Role.READER,
        )
        if with_descendants:
            _copy_descendants(source, copy, actor=actor, keep_links=may_share)
        if parent_path is None:
            _copy_root_accesses(source, copy, actor=actor, copy_others=may_share)
        publish(
            DocumentCreated(
                actor_id=actor.pk,
                document_id=copy.pk,
                parent_id=None if parent_path is None else parent.pk,
                source_id=source.pk,
            )
        )
    return copy


def _copy_descendants(source: Document, copy: Document, *, actor: Any, keep_links: bool) -> None:
    descendants = documents().filter(path__startswith=source.path).exclude(pk=source.pk)
    now = timezone.now()
    Document.objects.bulk_create(
        [
            Document(
                path=copy.path + item.path[len(source.path):],
                depth=item.depth,
                title=item.title,
                excerpt=item.excerpt,
                creator=actor,
                position=item.position,
                child_counter=item.child_counter,
                link_reach=item.link_reach if keep_links else "restricted",
                link_role=item.link_role if keep_links else Role.READER,
                created_at=now,
            )
            for item in descendants.order_by("path").iterator(chunk_size=1000)
        ],
        batch_size=1000,
    )


def _copy_root_accesses(source: Document, copy: Document, *, actor: Any, copy_others: bool) -> None:
    accesses = [DocumentAccess(resource=copy, user=actor, role=Role.OWNER)]
    if copy_others:
        accesses += [
            DocumentAccess(resource=copy, user_id=a.user_id, team_id=a.team_id, role=a.role)
            for a in DocumentAccess.objects.filter(resource=source).exclude(
                Q(user_id=actor.pk)
            )
        ]
    DocumentAccess.objects.bulk_create(accesses)


# --- favorites --------------------------------------------------------------------------------


def favorite_add(*, actor: Any, document_id: Any) -> Document:
    with transaction.atomic():
        document = access_document(actor, document_id, need=Perm.VIEW)
        Favorite.objects.bulk_create(
            [Favorite(user_id=actor.pk, document_id=document.pk)], ignore_conflicts=True
        )
    return document


def favorite_remove(*, actor: Any, document_id: Any) -> Document:
    with transaction.atomic():
        document = access_document(actor, document_id, need=Perm.VIEW)
        Favorite.objects.filter(user_id=actor.pk, document_id=document.pk).delete()
    return document
