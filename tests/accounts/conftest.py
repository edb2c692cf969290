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
