"""`kadr scenario generate`: one scenario through the same service, job and worker as the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kadr.config import Settings
from kadr.core.db import dispose_database, get_database
from kadr.runs.local import LOCAL_USER_EMAIL
from kadr.scenarios.generation import GenerationService
from kadr.scenarios.models import FINISHED_SCENARIO_STATUSES, Scenario
from kadr.scenarios.repository import ScenarioRepository
from kadr.scenarios.schemas import GenerateRequest

POLL_SECONDS = 0.25


async def generate_locally(
    settings: Settings, request: GenerateRequest, on_update: Callable[[Scenario], None] | None = None
) -> Scenario:
    """Generate with an in-process worker, as the local user of `kadr process`; the finished scenario."""
    from kadr.accounts.service import get_or_create_local_user
    from kadr.jobs.runtime import Runtime
    from kadr.migrations.runner import upgrade_database

    await upgrade_database(settings)
    try:
        async with Runtime(settings).running(worker=True, scheduler=True):
            database = get_database(settings)
            async with database.session() as session:
                owner_id = await get_or_create_local_user(session, LOCAL_USER_EMAIL)
                scenario = await GenerationService(session, settings).generate(owner_id, request)
            while True:
                async with database.session() as session:
                    found = await ScenarioRepository(session).get(owner_id, scenario.id)
                scenario = found or scenario
                if on_update is not None:
                    on_update(scenario)
                if found is None or scenario.status in FINISHED_SCENARIO_STATUSES:
                    return scenario
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await dispose_database()
