"""Migrations build the same schema on SQLite and PostgreSQL, and the job claim works on both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from kadr.config import Settings
from kadr.core.db import Base, dispose_database, get_database
from kadr.core.model_registry import load_all_models
from kadr.migrations.runner import upgrade_database
from tests.conftest import require_service

pytestmark = pytest.mark.anyio
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
async def postgres_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    """A throwaway database on the local PostgreSQL, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"kadr_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(
            data_dir=tmp_path / "var", database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        )
    finally:
        await dispose_database()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _tables(settings: Settings) -> dict[str, set[str]]:
    async with get_database(settings).engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {
                t: {c["name"] for c in inspect(sync).get_columns(t)} for t in inspect(sync).get_table_names()
            }
        )


def _model_tables() -> dict[str, set[str]]:
    load_all_models()
    return {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}


async def test_sqlite_schema_matches_the_models(settings: Settings) -> None:
    await upgrade_database(settings)
    await upgrade_database(settings)  # idempotent
    tables = await _tables(settings)
    await dispose_database()
    tables.pop("alembic_version")
    assert tables == _model_tables()


@pytest.mark.postgres
async def test_postgres_schema_matches_the_models_and_jobs_claim_atomically(
    postgres_settings: Settings,
) -> None:
    await upgrade_database(postgres_settings)
    tables = await _tables(postgres_settings)
    tables.pop("alembic_version")
    assert tables == _model_tables()

    from kadr.jobs import service as jobs
    from kadr.jobs.models import JobStatus
    from kadr.jobs.repository import JobRepository

    database = get_database(postgres_settings)
    async with database.session() as session:
        job = await jobs.enqueue(session, postgres_settings, "run.process", {"run_id": "run_x"})
        await session.commit()
    async with database.session() as first, database.session() as second:
        won = await JobRepository(first).claim(job.id, "worker-a", 30)
        await first.commit()
        lost = await JobRepository(second).claim(job.id, "worker-b", 30)
        await second.commit()
    assert won is not None and won.status == JobStatus.RUNNING and won.lease_owner == "worker-a"
    assert lost is None
