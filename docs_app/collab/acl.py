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
from suite.access.epoch import current_epoch
from suite.access.resolve import annotate_roles
from suite.access.roles import Perm, role_allows
from suite.identity.credentials import Ended, ended_credentials

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    """A session's current access to a document: the user's role, and whether the
    credential the socket was opened with still holds (``ended``: why not), as of access
    epoch ``epoch`` (``suite.access.epoch``)."""

    role: int | None
    in_trash: bool = False
    ended: Ended | None = None
    epoch: int = 0

    @property
    def can_view(self) -> bool:
        return self.ended is None and not self.in_trash and role_allows(self.role, Perm.VIEW)

    @property
    def can_edit(self) -> bool:
        return self.ended is None and not self.in_trash and role_allows(self.role, Perm.EDIT)


def resolve_access(document_id: Any, peers: list[Any], *, epoch: int | None = None) -> dict[Any, Access]:
    """The access of each session (``peer.user``, ``peer.credential``) to the document: one
    query per user (rooms hold few) and a few for the credentials. The epoch is read first
    (or given, by a write that holds it: :func:`suite.access.epoch.session_write_epoch`),
    so that what is resolved is never older than the epoch it is stamped with."""
    from django.contrib.auth import get_user_model

    if epoch is None:
        epoch = current_epoch()
    users = {peer.user.pk: peer.user for peer in peers}
    active = set(
        get_user_model().objects.filter(pk__in=list(users), is_active=True).values_list("pk", flat=True)
    )
    roles: dict[Any, tuple[int | None, bool]] = {}
    for pk, user in users.items():
        if pk not in active:
            roles[pk] = (None, False)
            continue
        row = (
            annotate_roles(documents(include_deleted=True).filter(pk=document_id), user)
            .values_list("effective_role", "ancestors_deleted_at")  # type: ignore[misc]  # annotated
            .first()
        )
        roles[pk] = (None, False) if row is None else (row[0], row[1] is not None)
    ended = ended_credentials([peer.credential for peer in peers if peer.credential is not None])
    result: dict[Any, Access] = {}
    for peer in peers:
        role, in_trash = roles[peer.user.pk]
        if peer.credential is None:  # every authenticated socket has one
            reason: Ended | None = Ended.CREDENTIAL_EXPIRED
        else:
            reason = ended.get(peer.credential)
        result[peer] = Access(role, in_trash=in_trash, ended=reason, epoch=epoch)
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
