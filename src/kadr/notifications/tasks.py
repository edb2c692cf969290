"""Job handlers of the notifications domain: deliver one notification."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.core.db import get_database
from kadr.jobs.registry import JobContext, job_handler
from kadr.notifications.outbox import DELIVER_JOB_KIND
from kadr.notifications.service import NotificationService


async def _mark_failed(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    await NotificationService(session, context.settings).give_up(context.payload["delivery_id"], error)


@job_handler(DELIVER_JOB_KIND, queue="notify", on_give_up=_mark_failed, time_limit_seconds=120)
async def deliver(context: JobContext) -> dict[str, Any]:
    async with get_database(context.settings).session() as session:
        return await NotificationService(session, context.settings).deliver(context.payload["delivery_id"])
