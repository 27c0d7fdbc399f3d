"""Two moves of the same node at the same time, each in its own transaction and connection:
the tree lock serializes them and the tree stays consistent."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from docs_app.models import Document
from docs_app.services.documents import document_move
from suite.access.models import PATH_STEP
from tests.docs_app.factories import DocumentAccessFactory, DocumentFactory
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_of_same_node_keep_tree_consistent():
    owner = UserFactory()
    root = DocumentFactory(creator=owner)
    DocumentAccessFactory(resource=root, user=owner, role=50)
    left, right = DocumentFactory(parent=root), DocumentFactory(parent=root)
    node = DocumentFactory(parent=root)
    leaf = DocumentFactory(parent=DocumentFactory(parent=node))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def move(target):
        try:
            barrier.wait()
            for _ in range(5):
                document_move(actor=owner, document_id=node.pk, parent_id=target.pk)
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(t,)) for t in (left, right)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    rows = list(Document.objects.values_list("path", "depth"))
    paths = {path for path, _ in rows}
    assert len(paths) == len(rows)
    for path, depth in rows:
        assert len(path) == depth * PATH_STEP
        if depth > 1:
            assert path[:-PATH_STEP] in paths
    node.refresh_from_db()
    leaf.refresh_from_db()
    assert node.depth == 3 and leaf.depth == 5 and leaf.path.startswith(node.path)
    assert node.path[:-PATH_STEP] in (left.path, right.path)
