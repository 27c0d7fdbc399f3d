"""The update log and compaction under concurrency: appends racing compactions lose
nothing; two compactions of one document never run at once."""

from __future__ import annotations

import threading

import psycopg
import pycrdt
import pytest
from django.db import connection, connections

from docs_app.collab import storage
from docs_app.models import DocumentSnapshot, DocumentUpdate
from tests.docs_app.factories_sharing import make_document

pytestmark = pytest.mark.django_db(transaction=True)


def typed_updates(count: int) -> tuple[list[bytes], str]:
    doc = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates = []
    for i in range(count):
        before = doc.get_state()
        text += chr(97 + i % 26)
        updates.append(doc.get_update(before))
    return updates, str(text)


def stored_text(document_id) -> str:
    doc, _ = storage.load_doc(document_id)
    return str(doc.get("text", type=pycrdt.Text))


def test_appends_racing_compactions_lose_nothing():
    document = make_document(title="race")
    updates, expected = typed_updates(300)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():
        try:
            for update in updates:
                storage.append(document.pk, [update])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()
            connections.close_all()

    def compactor():
        try:
            while not done.is_set():
                storage.compact(document.pk)
            storage.compact(document.pk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer), threading.Thread(target=compactor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert stored_text(document.pk) == expected
    assert DocumentSnapshot.objects.get(document=document).updates_merged >= 1


def test_a_compaction_in_progress_elsewhere_is_not_doubled():
    document = make_document(title="locked")
    updates, expected = typed_updates(5)
    storage.append(document.pk, updates)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                      [storage.LOCK_NAMESPACE, str(document.pk)])
        assert storage.compact(document.pk) is None  # someone else holds it
        other.execute("ROLLBACK")
    assert DocumentUpdate.objects.filter(document=document).count() == 5
    result = storage.compact(document.pk)
    assert result is not None and result.merged == 5
    assert stored_text(document.pk) == expected


def test_load_is_snapshot_plus_every_remaining_row():
    document = make_document(title="tail")
    updates, expected = typed_updates(10)
    storage.append(document.pk, updates[:6])
    storage.compact(document.pk)
    storage.append(document.pk, updates[6:])
    doc, rows = storage.load_doc(document.pk)
    assert rows == 4
    assert str(doc.get("text", type=pycrdt.Text)) == expected
