"""CRDT changes made by the server (content API, version restore): computed on a copy of
the document built from storage, as a Yjs update, then written to the update log and
published to the rooms of every process, exactly like an edit received on a websocket. So
live editors see them at once, and concurrent edits merge instead of being overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pycrdt
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from docs_app.collab import indexing, storage
from docs_app.collab.protocol import EMPTY_UPDATE

logger = logging.getLogger(__name__)


def publish(document_id: Any, updates: list[bytes]) -> None:
    """Send durable updates to the rooms of every process (best effort: a room that misses
    them catches up when its clients resync, and storage already has them)."""
    from docs_app.collab.rooms import room_group

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            room_group(document_id), {"type": "collab.update", "updates": updates, "origin": "server"}
        )
    except Exception:
        logger.exception("publishing a server change failed", extra={"document_id": str(document_id)})


def submit_update(document_id: Any, update: bytes) -> pycrdt.Doc:
    """Append a client-supplied Yjs update (validated here) and publish it; returns the
    document after it. Raises ``ValueError`` when ``update`` is not a Yjs update."""
    doc, _ = storage.load_doc(document_id)
    novel = pycrdt.get_update(update, doc.get_state())  # ValueError when malformed
    if novel != EMPTY_UPDATE:
        doc.apply_update(novel)
        _commit(document_id, novel, doc)
    return doc


def apply_change(document_id: Any, mutate: Callable[[pycrdt.Doc], None]) -> pycrdt.Doc:
    """Run ``mutate(doc)`` in one transaction on the current document and make the result a
    durable, published change; returns the document after it."""
    doc, _ = storage.load_doc(document_id)
    before = doc.get_state()
    with doc.transaction(origin="communs-server"):
        mutate(doc)
    update = doc.get_update(before)
    if update != EMPTY_UPDATE:
        _commit(document_id, update, doc)
    return doc


def _commit(document_id: Any, update: bytes, doc: pycrdt.Doc) -> None:
    storage.append(document_id, [update])
    transaction.on_commit(lambda: publish(document_id, [update]), robust=True)
    indexing.store_text(document_id, indexing.document_text(doc))
