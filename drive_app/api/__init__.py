"""``/api/v1/drive/``: one router assembling the drive product's endpoints.

Static paths (``items/trash/``, ``items/favorites/``...) are registered before
``items/{item_id}/``; each area has its own module.
"""

from __future__ import annotations

import importlib

from ninja import Router

from drive_app.api import items

router = Router(tags=["drive"])
router.add_router("", items.usage_router)
router.add_router("/items", items.collection_router)
# Areas written separately: mounted when present (accesses, links, zip).
for name in ("accesses", "links", "archives", "wopi"):
    try:
        module = importlib.import_module(f"drive_app.api.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"drive_app.api.{name}":
            raise
        continue
    router.add_router("/items", module.router)
    public = getattr(module, "public_router", None)
    if public is not None:  # share links used without an account: /api/v1/drive/links/...
        router.add_router("/links", public)
router.add_router("/items", items.item_router)
