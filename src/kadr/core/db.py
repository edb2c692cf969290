"""Database engine, sessions and the declarative base.

One `Database` (engine + session factory) exists per event loop: async drivers
bind connections to the loop that opened them, and kadr runs more than one loop
in a process (the API's and the worker's).

SQLite transactions begin `IMMEDIATE` (the write lock up front) unless the code
running them said it only reads: `deferred_transactions()` (the API sets it for
GET/HEAD/OPTIONS requests) makes them begin `DEFERRED`, so readers never queue
behind a writer. A reader that turns out to write calls `begin_writes()` first.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from kadr.config import Settings, get_settings


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        list[str]: JSON(),
    }


#: True while the running code only reads: its SQLite transactions begin DEFERRED.
_reads_only: ContextVar[bool] = ContextVar("kadr_reads_only", default=False)


@contextmanager
def deferred_transactions(enabled: bool = True) -> Iterator[None]:
    """Within the block, SQLite transactions begin DEFERRED (`enabled`) or IMMEDIATE.

    A deferred transaction takes no lock until it writes, so readers run while a writer
    holds the write lock; but one that reads and then writes cannot wait for the lock
    (SQLite answers SQLITE_BUSY at once rather than risk a deadlock): code that writes
    calls `begin_writes()` before its first statement of that transaction.
    """
    token = _reads_only.set(enabled)
    try:
        yield
    finally:
        _reads_only.reset(token)


def reads_only() -> bool:
    """Whether transactions begun now begin DEFERRED."""
    return _reads_only.get()


async def begin_writes(session: AsyncSession) -> None:
    """Opt in to writing from read-only code (a GET that records something).

    Ends the session's read transaction, if one is open (committing whatever it holds), and
    makes the rest of the current request or block begin its transactions IMMEDIATE, which
    wait for the write lock instead of failing half-way.
    """
    if _reads_only.get():
        if session.in_transaction():
            await session.commit()
        _reads_only.set(False)


def _begin_sqlite(connection: Connection) -> None:
    """BEGIN in one round trip to the driver's thread (a SQLAlchemy cursor takes four)."""
    sql = "BEGIN" if _reads_only.get() else "BEGIN IMMEDIATE"
    adapted: Any = connection.connection.dbapi_connection
    try:
        await_only(adapted.driver_connection.execute(sql))
    except sqlite3.Error as error:
        # Raised from an event, it would escape SQLAlchemy's wrapping: wrap it as SQLAlchemy
        # does (SQLITE_BUSY after busy_timeout becomes OperationalError, answered 503).
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from error


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # waits on busy_timeout instead of failing with SQLITE_BUSY mid-way; code that
        # declared it only reads begins DEFERRED and never waits for writers.
        _begin_sqlite(connection)


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={"timeout": settings.db_pool_timeout} if url.startswith("postgresql+asyncpg") else {},
    )


class Database:
    """An engine and its session factory, bound to one event loop."""

    def __init__(self, settings: Settings) -> None:
        from kadr.core.model_registry import load_all_models

        # A process that never imports every domain (a worker) must still resolve every foreign key.
        load_all_models()
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_databases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database] = weakref.WeakKeyDictionary()


def get_database(settings: Settings | None = None) -> Database:
    """The Database of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    database = _databases.get(loop)
    if database is None:
        database = Database(settings or get_settings())
        _databases[loop] = database
    return database


async def dispose_database() -> None:
    """Close the running loop's engine (at shutdown, and between tests)."""
    loop = asyncio.get_running_loop()
    database = _databases.pop(loop, None)
    if database is not None:
        await database.dispose()


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """A session on the running loop's database (workers, scheduler, CLI)."""
    async with get_database().session() as session:
        yield session
