"""The documents product's platform events: their shape, and that each document write
publishes its event after commit."""

from __future__ import annotations

import uuid

import pytest

from docs_app import events
from suite.events import event_type, subscribe, unsubscribe
from tests.docs_app.conftest import API

DOCS_EVENTS = {
    "docs.document_created", "docs.document_updated", "docs.document_moved",
    "docs.document_deleted", "docs.document_restored", "docs.document_destroyed",
    "docs.comment_created", "docs.comment_updated", "docs.comment_deleted",
    "docs.thread_resolved", "docs.thread_reopened", "docs.reaction_added",
    "docs.reaction_removed", "docs.access_requested", "docs.access_request_decided",
    "docs.invitation_created",
}


def test_every_docs_event_is_registered_with_a_document_id():
    for name in DOCS_EVENTS:
        cls = event_type(name)
        assert issubclass(cls, events.DocumentEvent), name
        assert "document_id" in cls.model_fields


def test_event_envelope_shape():
    document_id, thread_id, comment_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event = events.ReactionAdded(
        document_id=document_id, thread_id=thread_id, comment_id=comment_id, emoji="👍"
    )
    envelope = event.envelope()
    assert envelope["type"] == "docs.reaction_added"
    assert envelope["data"]["document_id"] == str(document_id)
    assert envelope["data"]["emoji"] == "👍"
    assert set(envelope["data"]) == {
        "event_id", "occurred_at", "actor_id", "document_id", "thread_id", "comment_id", "emoji",
    }


def test_event_rejects_missing_ids():
    with pytest.raises(ValueError):
        events.CommentCreated(document_id=uuid.uuid4())  # type: ignore[call-arg]


@pytest.mark.django_db(transaction=True)
def test_document_writes_publish_events(api, user):
    received = []

    def handler(event):
        received.append(event)

    names = [
        "docs.document_created", "docs.document_updated", "docs.document_moved",
        "docs.document_deleted", "docs.document_restored", "docs.document_destroyed",
    ]
    for name in names:
        subscribe(name, handler)
    try:
        client = api(user)
        root = client.post(API, json={"title": "root"}).json()["id"]
        child = client.post(API, json={"title": "child", "parent": root}).json()["id"]
        client.patch(f"{API}{child}", json={"title": "renamed"})
        client.post(f"{API}{child}/move", json={"parent": None})
        client.delete(f"{API}{child}")
        client.post(f"{API}{child}/restore")
        client.delete(f"{API}{root}?hard=true")
    finally:
        for name in names:
            unsubscribe(name, handler)

    assert [e.name for e in received] == [
        "docs.document_created", "docs.document_created", "docs.document_updated",
        "docs.document_moved", "docs.document_deleted", "docs.document_restored",
        "docs.document_destroyed",
    ]
    assert received[1].parent_id == uuid.UUID(root)
    assert received[2].fields == ["title"]
    assert received[3].old_parent_id == uuid.UUID(root) and received[3].new_parent_id is None
    assert all(e.actor_id == user.pk for e in received)
