"""Job handlers of the channels domain: check a channel's credentials ahead of its slots."""

from __future__ import annotations

from typing import Any

from kadr.channels.repository import ChannelRepository
from kadr.channels.service import ChannelService
from kadr.core.db import get_database
from kadr.jobs.registry import JobContext, job_handler

CHECK_JOB_KIND = "channel.check"


@job_handler(CHECK_JOB_KIND, queue="publish", max_attempts=3, time_limit_seconds=120)
async def check_channel(context: JobContext) -> dict[str, Any]:
    """Refresh a YouTube token / ask Telegram for the chat; a refused token notifies the owner."""
    async with get_database(context.settings).session() as session:
        channel = await ChannelRepository(session).get_unscoped(context.payload["channel_id"])
        if channel is None:
            return {"skipped": "channel is gone"}
        status = await ChannelService(session, context.settings).check_channel(channel)
    return {"status": status}
