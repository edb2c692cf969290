"""Fixtures for the accounts tests: a session on the migrated test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings


@pytest.fixture
async def session(settings: Settings, database: None) -> AsyncIterator[AsyncSession]:
    """One session for a test. One only: on SQLite every transaction holds the write lock, so a
    second session writing while this one has a transaction open would wait for it."""
    from kadr.core.db import get_database

    async with get_database(settings).session() as db_session:
        yield db_session


class FakeClock:
    """A monotonic clock the test moves by hand (no sleeping, no timing assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def auth_clock(app, settings: Settings) -> FakeClock:  # type: ignore[no-untyped-def]
    """The app's authentication cache on a clock the test controls."""
    from kadr.accounts.principal import PrincipalCache

    clock = FakeClock()
    app.state.auth_cache = PrincipalCache(settings.auth_cache_seconds, settings.auth_cache_size, clock=clock)
    return clock
