"""Job handlers of the publications domain: publish one publication."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.channels.service import ChannelUnusable
from kadr.core.db import get_database
from kadr.core.errors import NotFound, PermanentJobError
from kadr.jobs.registry import JobContext, job_handler
from kadr.publications.publishers import publish
from kadr.publications.service import PUBLISH_JOB_KIND, PublicationService


async def _mark_failed(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    await PublicationService(session, context.settings).fail(context.payload["publication_id"], error)


@job_handler(PUBLISH_JOB_KIND, queue="publish", on_give_up=_mark_failed, time_limit_seconds=6 * 3600)
async def publish_publication(context: JobContext) -> dict[str, Any]:
    async with get_database(context.settings).session() as session:
        started = await PublicationService(session, context.settings).begin(context.payload["publication_id"])
    if started is None:
        return {"skipped": "publication is cancelled, finished or gone"}
    publication, channel = started
    try:
        return await publish(context, publication, channel)
    except (ChannelUnusable, NotFound) as exc:
        raise PermanentJobError(exc.detail) from exc
