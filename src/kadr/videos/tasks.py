"""Job handlers of the videos domain."""

from __future__ import annotations

from typing import Any

from kadr.core.db import get_database
from kadr.jobs.registry import JobContext, job_handler
from kadr.videos.service import VideoService


@job_handler("video.ingest", queue="video", time_limit_seconds=3600)
async def ingest_upload(context: JobContext) -> dict[str, Any] | None:
    """Hash and probe a presigned upload on a worker, then record the video (or the reason not)."""
    async with get_database(context.settings).session() as session:
        await VideoService(session, context.settings).ingest_upload(context.payload["upload_id"])
    return None
