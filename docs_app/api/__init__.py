"""``/api/v1/documents/``: one router assembling the documents product's endpoints.

Each area has its own module; the order matters where paths overlap (static paths such as
``trash`` or ``favorites`` are registered before ``{document_id}``).
"""

from __future__ import annotations

from ninja import Router

from docs_app.api import accesses, comments, content, documents

router = Router(tags=["documents"])
router.add_router("", documents.collection_router)
router.add_router("", accesses.router)
router.add_router("", comments.router)
router.add_router("", content.router)
router.add_router("", documents.item_router)
