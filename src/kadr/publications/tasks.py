"""Job handlers of the publications domain: publish one publication.

`ServicePort` is the publishers' way to the database (the `PublishPort` of
`publishers.base`): each call opens a session, lets a service do the work and commit,
and closes it, so nothing is held open while a platform answers.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.channels.models import Channel
from kadr.channels.service import ChannelService, ChannelUnusable
from kadr.config import Settings
from kadr.core.db import get_database
from kadr.core.errors import NotFound, PermanentJobError, RetryLater
from kadr.jobs.registry import JobContext, job_handler
from kadr.publications.models import Publication
from kadr.publications.publishers import Source, publisher_for
from kadr.publications.service import PUBLISH_JOB_KIND, PublicationService
from kadr.storage import get_storage


class ServicePort:
    """The PublishPort of one publication, backed by the publication and channel services."""

    def __init__(self, settings: Settings, publication: Publication, channel: Channel) -> None:
        self.settings = settings
        self.publication = publication
        self.channel = channel

    @asynccontextmanager
    async def _service(self) -> AsyncIterator[PublicationService]:
        async with get_database(self.settings).session() as session:
            yield PublicationService(session, self.settings)

    @asynccontextmanager
    async def _channels(self) -> AsyncIterator[ChannelService]:
        async with get_database(self.settings).session() as session:
            yield ChannelService(session, self.settings)

    async def source(self) -> Source:
        async with self._service() as service:
            return await service.source_of(self.publication)

    async def thumbnail(self) -> tuple[str, str] | None:
        async with self._service() as service:
            return await service.thumbnail_of(self.publication)

    async def download_url(self) -> str | None:
        async with self._service() as service:
            return await service.download_url_of(self.publication)

    @asynccontextmanager
    async def local_copy(self, key: str, name: str) -> AsyncIterator[Path]:
        folder = self.settings.resolved_work_dir / "publish" / self.publication.id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(name).name
        try:
            await asyncio.to_thread(get_storage(self.settings).get_file, key, path)
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def record(self, **values: Any) -> None:
        async with self._service() as service:
            await service.record(self.publication.id, **values)

    async def take_slot(self, interval_seconds: float) -> None:
        async with self._service() as service:
            await service.take_slot(self.publication.id, self.channel.id, interval_seconds)

    async def spend_quota(
        self, project: str, day: str, costs: dict[str, int], limits: dict[str, int]
    ) -> bool:
        async with self._service() as service:
            return await service.spend_quota(project, day, costs, limits)

    async def exhaust_quota(self, project: str, day: str, bucket: str, limit: int) -> None:
        async with self._service() as service:
            await service.exhaust_quota(project, day, bucket, limit)

    async def wait(self, delay_seconds: float, reason: str) -> RetryLater:
        async with self._service() as service:
            return await service.wait(self.publication.id, delay_seconds, reason)

    async def access_token(self, *, force_refresh: bool = False) -> str:
        async with self._channels() as channels:
            return await channels.youtube_access_token(self.channel, force_refresh=force_refresh)

    async def needs_reauth(self, reason: str) -> None:
        async with self._channels() as channels:
            await channels.flag_needs_reauth(self.channel, reason)

    async def published(self, external_id: str, external_url: str | None) -> None:
        async with self._service() as service:
            await service.published(self.publication.id, external_id, external_url)


async def _mark_failed(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    await PublicationService(session, context.settings).fail(context.payload["publication_id"], error)


@job_handler(PUBLISH_JOB_KIND, queue="publish", on_give_up=_mark_failed, time_limit_seconds=6 * 3600)
async def publish_publication(context: JobContext) -> dict[str, Any]:
    async with get_database(context.settings).session() as session:
        started = await PublicationService(session, context.settings).begin(context.payload["publication_id"])
    if started is None:
        return {"skipped": "publication is cancelled, finished or gone"}
    publication, channel = started
    port = ServicePort(context.settings, publication, channel)
    try:
        return await publisher_for(channel.kind).publish(context, publication, channel, port)
    except (ChannelUnusable, NotFound) as exc:
        raise PermanentJobError(exc.detail) from exc
