"""One pagination shape for every list endpoint.

An endpoint takes `PageDep` (bounded `limit` and `offset` query parameters), its service
hands the `Page` to a repository, which reads a `PageResult` (the rows of one page and how
many there are in all), and the endpoint answers `Paginated[ItemOut].of(result, page)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, NamedTuple, Self, TypeVar

from fastapi import Depends, Query

from kadr.core.schemas import Schema

R = TypeVar("R")
T = TypeVar("T")

# The deepest page a client may ask for: larger offsets overflowed the databases' 64-bit integers
# (a 500); nobody pages ten million rows deep by offset.
MAX_OFFSET = 10_000_000
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page:
    """limit/offset pagination, the same on every list endpoint (out of bounds: 422)."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


#: The `limit` and `offset` query parameters of a list endpoint.
PageDep = Annotated[Page, Depends()]


class PageResult(NamedTuple, Generic[R]):
    """One page of rows, in order, and the number of rows on every page together."""

    items: Sequence[R]
    total: int


class Paginated(Schema, Generic[T]):
    """The body of every list endpoint."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, result: PageResult[Any], page: Page) -> Self:
        """The page `result` read for `page`, each item validated as `T` (from its attributes)."""
        return cls.model_validate(
            {"items": list(result.items), "total": result.total, "limit": page.limit, "offset": page.offset}
        )
