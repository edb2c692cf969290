"""Job handlers of the runs domain: process a run through the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs.models import JobStatus
from kadr.jobs.registry import JobContext, job_handler
from kadr.llm.service import LLMService
from kadr.pipeline.base import AwaitingReview
from kadr.pipeline.components import COMPONENTS
from kadr.pipeline.orchestrator import ComponentRecord, Orchestrator
from kadr.runs.service import RUN_JOB_KIND, RunService
from kadr.storage import get_storage


class DatabaseRecorder:
    """Persists what the orchestrator reports, one short transaction per report; a component's
    language model calls are recorded with the run's owner (their tokens are the owner's)."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self._owner_id: str | None = None

    async def component_started(self, record: ComponentRecord) -> None:
        async with get_database(self.settings).session() as session:
            runs = RunService(session, self.settings)
            # Known before any model is asked: calls are kept even if the run is deleted meanwhile.
            self._owner_id = self._owner_id or await runs.owner_of(self.run_id)
            await runs.record_component(self.run_id, record, None, starting=True)

    async def progress(self, records: Mapping[str, ComponentRecord], overall: float) -> None:
        async with get_database(self.settings).session() as session:
            await RunService(session, self.settings).record_progress(self.run_id, records, overall)

    async def component_finished(self, record: ComponentRecord, overall: float) -> None:
        async with get_database(self.settings).session() as session:
            runs = RunService(session, self.settings)
            await runs.record_component(self.run_id, record, overall)
            if not record.llm_calls or self._owner_id is None:
                return
            calls = LLMService(session, self.settings)
            for call in record.llm_calls:
                await calls.record(self._owner_id, call, subject_id=self.run_id)


async def _mark_run_failed(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    await RunService(session, context.settings).fail_processing(
        context.payload["run_id"], error, dead=status == JobStatus.DEAD
    )


async def _reopen_run(session: AsyncSession, context: JobContext) -> None:
    await RunService(session, context.settings).reopen_processing(context.payload["run_id"])


@job_handler(RUN_JOB_KIND, queue="video", on_give_up=_mark_run_failed, on_revive=_reopen_run)
async def process_run(context: JobContext) -> dict[str, Any] | None:
    """Run the run's remaining components; finished ones are checkpoints and are skipped."""
    settings = context.settings
    run_id = context.payload["run_id"]
    async with get_database(settings).session() as session:
        pipeline_run = await RunService(session, settings).begin_processing(run_id)
    if pipeline_run is None:
        return {"skipped": "run is finished, cancelled or gone"}
    orchestrator = Orchestrator(settings, get_storage(settings), COMPONENTS)
    try:
        records = await orchestrator.execute(
            pipeline_run,
            DatabaseRecorder(settings, run_id),
            context.cancel_event,
            context.drain_event,
            attempt=context.attempt,
        )
    except AwaitingReview as stop:  # the job is done; `POST /v1/runs/{id}/resume` makes the next
        async with get_database(settings).session() as session:
            await RunService(session, settings).await_review(run_id, stop.component)
        return {"awaiting_review": stop.component}
    async with get_database(settings).session() as session:
        await RunService(session, settings).finish_processing(run_id)
    return {"components": {name: record.status for name, record in records.items()}}
