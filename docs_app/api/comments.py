"""Endpoints of the documents product (comments); being written."""

from __future__ import annotations

from ninja import Router

router = Router()
collection_router = Router()
item_router = Router()
