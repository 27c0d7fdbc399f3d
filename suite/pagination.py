"""Pagination of every list of the API: ``?limit=&offset=`` → ``{"items": [...], "count": N}``.

Bounds are part of the contract (and of the OpenAPI document): ``limit`` 1-200 (default 50),
``offset`` 0 to 10**9, so no request can make PostgreSQL overflow or scan without end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class Serialized:
    """A queryset seen through a serializer, for ``@paginate``: only the requested page is
    fetched and turned into payloads (``serialize(obj)``), and the count is one ``COUNT``.
    For payloads that need the actor (roles, abilities) and so cannot be plain ninja
    resolvers."""

    def __init__(self, queryset: Any, serialize: Callable[[Any], Any]):
        self.queryset = queryset
        self.serialize = serialize

    def __getitem__(self, index: slice) -> list[Any]:
        return [self.serialize(obj) for obj in self.queryset[index]]

    def __len__(self) -> int:
        return int(self.queryset.count())
