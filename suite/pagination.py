"""Pagination of every list of the API: ``?limit=&offset=`` → ``{"items": [...], "count": N}``.

Bounds are part of the contract (and of the OpenAPI document): ``limit`` 1-200 (default 50),
``offset`` 0 to 10**9, so no request can make PostgreSQL overflow or scan without end.
"""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 10**9


class SuitePagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
