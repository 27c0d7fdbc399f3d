"""What the document list and search know of a document's content: its excerpt and its
full-text index, refreshed from the CRDT document (debounced by the rooms, at once by the
content API)."""

from __future__ import annotations

from typing import Any

import pycrdt
from django.conf import settings

from docs_app.models import EXCERPT_MAX_LENGTH, Document
from docs_app.search import index_content


def document_text(doc: pycrdt.Doc) -> str:
    from docs_app.content import json_to_text, read_content

    return json_to_text(read_content(doc, settings.DOCS_FRAGMENT))


def store_text(document_id: Any, text: str) -> None:
    """Save the excerpt and the search index of a document's content."""
    from docs_app.content import make_excerpt

    excerpt = make_excerpt(text, length=min(300, EXCERPT_MAX_LENGTH))
    Document.objects.filter(pk=document_id).exclude(excerpt=excerpt).update(excerpt=excerpt)
    index_content(document_id, text)
