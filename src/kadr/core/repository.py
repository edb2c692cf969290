"""The repository base: the queries every domain repository used to write by hand.

A `Repository[Model]` reads the rows of one model scoped to their owner (`get`, `list`,
`list_page`, `count`); a worker or a signed link, which acts for whoever owns the row, says so
with `get_unscoped`. State changes are conditional UPDATEs (`update(id, when_status=...)`):
of two requests or workers racing on one row, exactly one sees True.

The `_`-prefixed helpers take the model as an argument, for the other tables a domain
repository also keeps (a run's artifacts, a video's uploads).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kadr.core.db import Base
from kadr.core.pagination import PageResult

M = TypeVar("M", bound=Base)
R = TypeVar("R", bound=Base)

#: A status to expect, or any of several (a StrEnum member is a str: one status).
WhenStatus = str | Collection[str] | None


def _column(model: type[Base], name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(model, name)
    return column


def newest_first(model: type[Base]) -> tuple[ColumnElement[Any], ...]:
    """Newest first; the id breaks ties between rows created in the same instant (ids sort by time too)."""
    return (_column(model, "created_at").desc(), _column(model, "id").desc())


def status_condition(model: type[Base], when_status: WhenStatus) -> list[ColumnElement[bool]]:
    """`status` is the one expected (or one of those expected); no condition for None."""
    if when_status is None:
        return []
    status = _column(model, "status")
    if isinstance(when_status, str):
        return [status == when_status]
    return [status.in_(builtins.list(when_status))]


async def update_if(
    session: AsyncSession,
    model: type[Base],
    id: str,
    *where: ColumnElement[bool],
    when_status: WhenStatus = None,
    **values: Any,
) -> bool:
    """UPDATE the row `id` of `model` if it matches `where` and `when_status` (UPDATE … WHERE …
    RETURNING id): True for the one caller that changed it, False if it did not match (another
    request or worker got there first, or the row is gone)."""
    id_column = _column(model, "id")
    conditions = [id_column == id, *where, *status_condition(model, when_status)]
    outcome = await session.execute(update(model).where(*conditions).values(**values).returning(id_column))
    return outcome.scalar_one_or_none() is not None


class Repository(Generic[M]):
    """Queries on `model`, scoped to the owner in `owner_column`.

    Subclasses set `model`; `owner_column` where the owner is not `owner_id`; `fresh` where
    other processes change the rows under us (every read then overwrites the session's copy,
    never answering from a stale identity map); and override `page_order` where newest first
    is not what a list means.
    """

    model: type[M]
    owner_column: ClassVar[str] = "owner_id"
    fresh: ClassVar[bool] = False

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Base) -> None:
        self.session.add(row)

    async def delete(self, row: Base) -> None:
        await self.session.delete(row)

    # --- the model's rows, scoped to an owner ---------------------------------------

    async def get(self, owner_id: str, id: str) -> M | None:
        return await self._get_owned(self.model, owner_id, id, self.owner_column)

    async def get_unscoped(self, id: str) -> M | None:
        """Any owner's row: for workers and signed links, which act for whoever owns it."""
        return await self._get_by_id(self.model, id)

    async def list(
        self,
        owner_id: str,
        *where: ColumnElement[bool],
        order_by: Sequence[ColumnElement[Any]] | None = None,
        limit: int | None = None,
    ) -> Sequence[M]:
        query = self._scoped(owner_id).where(*where).order_by(*(order_by or self.page_order()))
        if limit is not None:
            query = query.limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def list_page(self, owner_id: str, limit: int, offset: int) -> PageResult[M]:
        """A page of the owner's rows in `page_order`, and how many there are in all.
        Repositories with filters add them as keyword arguments and call `_page`."""
        return await self._page(owner_id, limit, offset)

    async def count(self, owner_id: str, *where: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(self.model).where(self._owner_is(owner_id), *where)
        return int((await self.session.execute(query)).scalar_one())

    async def update(
        self, id: str, *where: ColumnElement[bool], when_status: WhenStatus = None, **values: Any
    ) -> bool:
        """`update_if` on the model: the state transitions of every domain."""
        return await self._update(self.model, id, *where, when_status=when_status, **values)

    def page_order(self) -> tuple[ColumnElement[Any], ...]:
        return newest_first(self.model)

    # --- for subclasses --------------------------------------------------------------

    def _owner_is(self, owner_id: str) -> ColumnElement[bool]:
        return _column(self.model, self.owner_column) == owner_id

    def _scoped(self, owner_id: str) -> Select[M]:
        query = select(self.model).where(self._owner_is(owner_id))
        return query.execution_options(populate_existing=True) if self.fresh else query

    async def _page(
        self, owner_id: str, limit: int, offset: int, *where: ColumnElement[bool]
    ) -> PageResult[M]:
        total = await self.count(owner_id, *where)
        query = self._scoped(owner_id).where(*where).order_by(*self.page_order()).limit(limit).offset(offset)
        return PageResult((await self.session.execute(query)).scalars().all(), total)

    async def _get_owned(
        self, model: type[R], owner_id: str, id: str, owner_column: str = "owner_id"
    ) -> R | None:
        query = select(model).where(_column(model, "id") == id, _column(model, owner_column) == owner_id)
        if self.fresh:
            query = query.execution_options(populate_existing=True)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def _get_by_id(self, model: type[R], id: str) -> R | None:
        return await self.session.get(model, id, populate_existing=self.fresh)

    async def _update(
        self,
        model: type[Base],
        id: str,
        *where: ColumnElement[bool],
        when_status: WhenStatus = None,
        **values: Any,
    ) -> bool:
        return await update_if(self.session, model, id, *where, when_status=when_status, **values)
