"""Telling every server process that access to documents changed, so open editing sessions
are downgraded or closed within a second (decision 0010).

The sharing services publish platform events after commit (access granted/changed/revoked,
link changed, document moved, trashed, restored); :func:`subscribe` turns them into one
channel-layer message to the ``docs.acl`` group naming the subtrees (materialized paths) or
users concerned. Each process re-resolves the role of the sockets of its rooms under those
paths (:meth:`docs_app.collab.rooms.Room.recheck_access`). Delivery through Redis pub/sub is
at most once, so rooms also re-check every ``DOCS_ACL_RECHECK_SECONDS``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Q

from docs_app.models import Document
from docs_app.permissions import documents
from suite.access.resolve import annotate_roles
from suite.access.roles import Perm, role_allows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    """A user's current access to a document, for an open session."""

    role: int | None
    in_trash: bool = False

    @property
    def can_view(self) -> bool:
        return not self.in_trash and role_allows(self.role, Perm.VIEW)

    @property
    def can_edit(self) -> bool:
        return not self.in_trash and role_allows(self.role, Perm.EDIT)


def resolve_access(document_id: Any, users: list[Any]) -> dict[Any, Access]:
    """The access of each user to the document (one query per user: rooms hold few); a
    deactivated account has none."""
    from django.contrib.auth import get_user_model

    active = set(
        get_user_model()
        .objects.filter(pk__in=[u.pk for u in users], is_active=True)
        .values_list("pk", flat=True)
    )
    result: dict[Any, Access] = {}
    for user in users:
        if user.pk not in active:
            result[user.pk] = Access(None)
            continue
        row = (
            annotate_roles(documents(include_deleted=True).filter(pk=document_id), user)
            .values_list("effective_role", "ancestors_deleted_at")  # type: ignore[misc]  # annotated
            .first()
        )
        if row is None:
            result[user.pk] = Access(None)
        else:
            result[user.pk] = Access(row[0], in_trash=row[1] is not None)
    return result


def documents_under(document_ids: list[Any], paths: list[str]) -> set[str]:
    """Which of ``document_ids`` lie in the subtree of one of ``paths``."""
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return {
        str(pk)
        for pk in Document.objects.filter(condition, pk__in=document_ids).values_list("pk", flat=True)
    }


def notify(
    *,
    paths: Iterable[str] = (),
    user_ids: Iterable[Any] = (),
    document_ids: Iterable[Any] = (),
) -> None:
    """Ask every process to re-check the sessions concerned (call after commit)."""
    message = {
        "type": "collab.acl",
        "paths": sorted(set(paths)),
        "user_ids": sorted({str(u) for u in user_ids}),
        "document_ids": sorted({str(d) for d in document_ids}),
    }
    if not (message["paths"] or message["user_ids"] or message["document_ids"]):
        return
    layer = get_channel_layer()
    if layer is None:
        return
    from docs_app.collab.rooms import ACL_GROUP

    try:
        async_to_sync(layer.group_send)(ACL_GROUP, message)
    except Exception:
        logger.exception("access change fan-out failed")


def _paths_of(document_ids: Iterable[Any]) -> list[str]:
    ids = []
    for value in document_ids:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue  # not a document id: nothing to re-check
    return list(Document.objects.filter(pk__in=ids).values_list("path", flat=True))


def on_document_access_event(event: Any) -> None:
    """Access granted/changed/revoked, link changed: on a document and its subtree."""
    if getattr(event, "resource_type", None) != "docs_app.document":
        return
    notify(paths=_paths_of([event.resource_id]), document_ids=[event.resource_id])


def on_document_tree_event(event: Any) -> None:
    """Moved (inherits other accesses now), trashed, restored: the document's subtree."""
    notify(paths=_paths_of([event.document_id]), document_ids=[event.document_id])


def on_users_changed(user_ids: Iterable[Any]) -> None:
    notify(user_ids=user_ids)


def subscribe() -> None:
    from suite import events

    for name in ("access.granted", "access.changed", "access.revoked", "access.link_changed"):
        events.subscribe(name, on_document_access_event)
    for name in ("docs.document_moved", "docs.document_deleted", "docs.document_restored"):
        events.subscribe(name, on_document_tree_event)
