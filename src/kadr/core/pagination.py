"""One pagination shape for every list endpoint.

A repository reads a `PageResult` (the rows of one page and how many there are in all);
every list endpoint answers it as `Paginated[T]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, NamedTuple, TypeVar

R = TypeVar("R")


class PageResult(NamedTuple, Generic[R]):
    """One page of rows, in order, and the number of rows on every page together."""

    items: Sequence[R]
    total: int
