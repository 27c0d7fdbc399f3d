"""Endpoints of the documents product (documents); being written."""

from __future__ import annotations

from ninja import Router

router = Router()
collection_router = Router()
item_router = Router()
