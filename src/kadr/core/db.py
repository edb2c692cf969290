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
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Executable, MetaData, RowMapping, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
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


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int, *, transactions: bool = True) -> None:
    _configure_sqlite_connections(engine.sync_engine, busy_timeout_ms)
    if not transactions:
        return

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # waits on busy_timeout instead of failing with SQLITE_BUSY mid-way; code that
        # declared it only reads begins DEFERRED and never waits for writers.
        _begin_sqlite(connection)


def _configure_sqlite_connections(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def make_engine(settings: Settings, *, autocommit: bool = False) -> AsyncEngine:
    """The engine sessions use, or (`autocommit`) the one single-statement reads use: each
    statement its own implicit transaction, so no BEGIN and no ROLLBACK round trips, and no
    reset when a connection goes back to the pool (nothing can be left open on it)."""
    url = settings.resolved_database_url
    options: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    )
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow, **options
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms, transactions=not autocommit)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={"timeout": settings.db_pool_timeout} if url.startswith("postgresql+asyncpg") else {},
        **options,
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
        self._reader: AsyncEngine | None = None
        self._sync_reader: Engine | None = None
        self._read_threads: ThreadPoolExecutor | None = None
        url = settings.resolved_database_url
        if url.startswith("sqlite+aiosqlite"):
            self._sync_reader = create_engine(
                url.replace("sqlite+aiosqlite", "sqlite", 1),
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                pool_size=settings.db_pool_size,
                max_overflow=0,
                connect_args={"check_same_thread": False},
            )
            _configure_sqlite_connections(self._sync_reader, settings.sqlite_busy_timeout_ms)
            self._read_threads = ThreadPoolExecutor(settings.db_pool_size, thread_name_prefix="kadr-read")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def read_rows(self, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[RowMapping]:
        """Run a one-statement read (a status poll) in autocommit: the statement is its own
        consistent snapshot, with no BEGIN or ROLLBACK around it.

        On SQLite the statement runs on a plain sqlite3 connection in one hop to a reader
        thread (aiosqlite takes four per statement, each a thread wake-up on both sides,
        which is most of a poll's cost); WAL lets these readers run beside the writer.
        Elsewhere it runs on an autocommit connection of the async driver.
        """
        if self._sync_reader is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._read_threads, self._read_sync, statement, parameters)
        if self._reader is None:
            self._reader = make_engine(self.settings, autocommit=True)
        async with self._reader.connect() as connection:
            return (await connection.execute(statement, parameters)).mappings().all()

    def _read_sync(self, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[RowMapping]:
        assert self._sync_reader is not None
        with self._sync_reader.connect() as connection:
            return connection.execute(statement, parameters).mappings().all()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            await self._reader.dispose()
            self._reader = None
        if self._sync_reader is not None:
            self._sync_reader.dispose()
        if self._read_threads is not None:
            self._read_threads.shutdown(wait=False)


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
