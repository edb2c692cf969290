"""Schedule, change and cancel publications; claim due ones; record what the publisher did.

The only place that commits publication changes. Every state change is a conditional
UPDATE, so two schedulers (or a scheduler and a user cancelling) never both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.channels.models import Channel, ChannelHealth
from kadr.channels.repository import ChannelRepository
from kadr.channels.service import ChannelService, ChannelUnusable
from kadr.channels.tasks import CHECK_JOB_KIND
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, NotFound, RetryLater, ValidationFailed
from kadr.core.idempotency import Idempotency, create_once
from kadr.core.ids import new_id
from kadr.core.logging import get_logger
from kadr.core.pagination import Page, PageResult
from kadr.jobs import service as jobs
from kadr.notifications.models import EventType
from kadr.notifications.outbox import emit
from kadr.publications.models import (
    FINISHED_PUBLICATION_STATUSES,
    TELEGRAM_CAPTION,
    Publication,
    PublicationStatus,
)
from kadr.publications.publishers import Source, publisher_for
from kadr.publications.repository import PublicationRepository
from kadr.publications.schemas import PublicationCreate, PublicationUpdate
from kadr.runs.repository import RunRepository
from kadr.runs.service import RunService
from kadr.storage import get_storage
from kadr.videos.repository import VideoRepository

log = get_logger(__name__)

PUBLISH_JOB_KIND = "publication.publish"
_STARTABLE = (PublicationStatus.QUEUED, PublicationStatus.PUBLISHING)


class PublicationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.publications = PublicationRepository(session)

    # --- the API ------------------------------------------------------------------
    async def create(
        self, owner_id: str, body: PublicationCreate, idempotency_key: str | None = None
    ) -> Publication:
        """Schedule a publication (queued at once when due). With an idempotency key the
        publication that key made is answered instead, if it was made by the same request."""
        idempotency = Idempotency.of(idempotency_key, body.model_dump(mode="json"))
        return await create_once(
            self.session,
            idempotency,
            lambda key: self.publications.find_by_idempotency_key(owner_id, key),
            lambda: self._create(owner_id, body, idempotency),
        )

    async def _create(
        self, owner_id: str, body: PublicationCreate, idempotency: Idempotency | None
    ) -> Publication:
        channel = await ChannelService(self.session, self.settings).get(owner_id, body.channel_id)
        if channel.status == ChannelHealth.NEEDS_REAUTH:
            raise ChannelUnusable(
                f"channel {channel.name} needs to be reconnected first: {channel.status_reason}"
            )
        size = await self._source_size(owner_id, body)
        body, caption = await self._with_clip_metadata(owner_id, body)
        assert body.title is not None  # given, or from the clip's metadata
        publisher_for(channel.kind).check_fits(self.settings, body, size)
        now = utcnow()
        publish_at = body.publish_at or now
        publication = Publication(
            id=new_id("pub"),
            owner_id=owner_id,
            channel_id=channel.id,
            video_id=body.video_id,
            artifact_id=body.artifact_id,
            thumbnail_artifact_id=body.thumbnail_artifact_id,
            title=body.title,
            description=body.description or "",
            tags=body.tags or [],
            privacy=body.privacy,
            made_for_kids=body.made_for_kids,
            notify_subscribers=body.notify_subscribers,
            publish_at=publish_at,
            status=PublicationStatus.SCHEDULED,
            size_bytes=size,
            details={TELEGRAM_CAPTION: caption} if caption else {},
            idempotency_key=idempotency.key if idempotency else None,
            idempotency_fingerprint=idempotency.fingerprint if idempotency else None,
            created_at=now,
            updated_at=now,
        )
        self.publications.add(publication)
        if publish_at <= now:
            # Due now: queue it in this transaction instead of waiting for the scheduler's sweep.
            await self.session.flush()
            await self._queue(publication.id, owner_id, now)
        await self.session.commit()
        return await self._reload(publication.id)

    async def get(self, owner_id: str, publication_id: str) -> Publication:
        publication = await self.publications.get(owner_id, publication_id)
        if publication is None:
            raise NotFound(f"no publication {publication_id}")
        return publication

    async def list_page(
        self,
        owner_id: str,
        page: Page,
        *,
        status: str | None = None,
        channel_id: str | None = None,
        publish_after: datetime | None = None,
        publish_before: datetime | None = None,
    ) -> PageResult[Publication]:
        """The owner's publications, soonest `publish_at` first."""
        return await self.publications.list_page(
            owner_id,
            page.limit,
            page.offset,
            status=status,
            channel_id=channel_id,
            publish_after=publish_after,
            publish_before=publish_before,
        )

    async def update(self, owner_id: str, publication_id: str, body: PublicationUpdate) -> Publication:
        """Reschedule or edit; only while it is still `scheduled`."""
        publication = await self.get(owner_id, publication_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        if not changes:
            return publication
        changes["updated_at"] = utcnow()
        if TELEGRAM_CAPTION in publication.details and {"title", "description", "tags"} & set(changes):
            # The metadata's caption was written for the texts that are being replaced.
            changes["details"] = {k: v for k, v in publication.details.items() if k != TELEGRAM_CAPTION}
        if "publish_at" in changes:
            changes["preflight_at"] = None  # a new slot gets its own credentials check
        if not await self.publications.update(
            publication_id, when_status=[PublicationStatus.SCHEDULED], **changes
        ):
            raise Conflict(
                f"publication {publication_id} is {publication.status}; only scheduled ones can be changed"
            )
        await self.session.commit()
        return await self._reload(publication_id)

    async def cancel(self, owner_id: str, publication_id: str) -> Publication:
        publication = await self.get(owner_id, publication_id)
        cancelled = await self.publications.update(
            publication_id,
            when_status=[PublicationStatus.SCHEDULED, PublicationStatus.QUEUED],
            status=PublicationStatus.CANCELLED,
            status_detail=None,
            updated_at=utcnow(),
        )
        if not cancelled:
            raise Conflict(
                f"publication {publication_id} is {publication.status}; "
                "it can be cancelled only before its upload starts"
            )
        if publication.job_id:
            await jobs.cancel(self.session, publication.job_id)
        await self.session.commit()
        return await self._reload(publication_id)

    async def retry(self, owner_id: str, publication_id: str) -> Publication:
        """Queue a failed publication again; a stored upload session or video id is reused."""
        publication = await self.get(owner_id, publication_id)
        channel = await ChannelService(self.session, self.settings).get(owner_id, publication.channel_id)
        if channel.status == ChannelHealth.NEEDS_REAUTH:
            raise ChannelUnusable(f"reconnect channel {channel.name} first: {channel.status_reason}")
        now = utcnow()
        if not await self.publications.update(
            publication_id,
            when_status=[PublicationStatus.FAILED],
            status=PublicationStatus.SCHEDULED,
            error=None,
            publish_at=now,
            updated_at=now,
        ):
            raise Conflict(
                f"publication {publication_id} is {publication.status}; only failed ones can be retried"
            )
        await self._queue(publication_id, owner_id, now)
        await self.session.commit()
        return await self._reload(publication_id)

    # --- the scheduler --------------------------------------------------------------
    async def dispatch_due(self, limit: int = 200) -> int:
        """Move due `scheduled` publications to `queued` and enqueue them, each exactly once."""
        now = utcnow()
        claimed = 0
        for publication_id in await self.publications.due_ids(now, limit):
            publication = await self.publications.get_unscoped(publication_id)
            if publication is not None and await self._queue(publication_id, publication.owner_id, now):
                claimed += 1
        await self.session.commit()
        if claimed:
            log.info("publications dispatched", count=claimed)
        return claimed

    async def preflight(self, limit: int = 200) -> int:
        """Ask for each channel with a slot coming up to have its credentials checked, once per slot."""
        now = utcnow()
        until = now + timedelta(seconds=self.settings.publish_preflight_seconds)
        channels: set[str] = set()
        for publication_id, channel_id in await self.publications.needing_preflight(until, limit):
            if await self.publications.claim_preflight(publication_id, now):
                channels.add(channel_id)
        for channel_id in sorted(channels):
            await jobs.enqueue(self.session, self.settings, CHECK_JOB_KIND, {"channel_id": channel_id})
        await self.session.commit()
        return len(channels)

    async def _queue(self, publication_id: str, owner_id: str, now: datetime) -> bool:
        if not await self.publications.update(
            publication_id,
            when_status=[PublicationStatus.SCHEDULED],
            status=PublicationStatus.QUEUED,
            status_detail=None,
            updated_at=now,
        ):
            return False
        job = await jobs.enqueue(
            self.session,
            self.settings,
            PUBLISH_JOB_KIND,
            {"publication_id": publication_id},
            owner_id=owner_id,
        )
        await self.publications.update(publication_id, job_id=job.id)
        return True

    # --- the publisher --------------------------------------------------------------
    async def begin(self, publication_id: str) -> tuple[Publication, Channel] | None:
        """Mark the publication as publishing; None when it was cancelled or is finished."""
        now = utcnow()
        started = await self.publications.update(
            publication_id,
            when_status=_STARTABLE,
            status=PublicationStatus.PUBLISHING,
            started_at=func.coalesce(Publication.started_at, now),  # the first attempt's start
            updated_at=now,
        )
        publication = await self.publications.get_unscoped(publication_id) if started else None
        channel = (
            await ChannelRepository(self.session).get_unscoped(publication.channel_id)
            if publication
            else None
        )
        await self.session.commit()
        if publication is None or channel is None:
            return None
        return publication, channel

    async def record(self, publication_id: str, **values: Any) -> None:
        """Store what the publisher learned (session URI, video id, progress) at once."""
        await self.publications.update(publication_id, updated_at=utcnow(), **values)
        await self.session.commit()

    async def wait(self, publication_id: str, delay_seconds: float, reason: str) -> RetryLater:
        """Park the publication (back to `queued`, saying why) and return the RetryLater to raise."""
        await self.publications.update(
            publication_id,
            when_status=[PublicationStatus.PUBLISHING],
            status=PublicationStatus.QUEUED,
            status_detail=reason,
            updated_at=utcnow(),
        )
        await self.session.commit()
        return RetryLater(delay_seconds, reason)

    async def take_slot(self, publication_id: str, channel_id: str, interval_seconds: float) -> None:
        """Pacing: one upload per channel per interval. Raises RetryLater until the slot is ours."""
        now = utcnow()
        channels = ChannelRepository(self.session)
        if await channels.claim_slot(channel_id, now, now + timedelta(seconds=interval_seconds)):
            await self.session.commit()
            return
        current = await channels.get_unscoped(channel_id)
        next_slot = current.next_slot_at if current is not None and current.next_slot_at else now
        delay = max(0.05, (next_slot - now).total_seconds())
        raise await self.wait(
            publication_id,
            delay,
            f"waiting for the channel's next upload slot at {next_slot.isoformat(timespec='seconds')} "
            f"(one upload per {interval_seconds:g} s)",
        )

    async def spend_quota(
        self, project: str, day: str, costs: dict[str, int], limits: dict[str, int]
    ) -> bool:
        """Spend a provider's daily budget for these calls; False, spending nothing, if it would overrun."""
        if await self.publications.reserve_quota(project, day, costs, limits):
            await self.session.commit()
            return True
        await self.session.rollback()
        return False

    async def exhaust_quota(self, project: str, day: str, bucket: str, limit: int) -> None:
        """The provider says the day's budget is gone (whatever we counted): record it as spent."""
        await self.publications.exhaust_quota(project, day, bucket, limit)
        await self.session.commit()

    async def published(self, publication_id: str, external_id: str, external_url: str | None) -> None:
        now = utcnow()
        publication = await self.publications.get_unscoped(publication_id)
        if publication is None:
            return
        done = await self.publications.update(
            publication_id,
            when_status=[PublicationStatus.PUBLISHING],
            status=PublicationStatus.PUBLISHED,
            status_detail=None,
            error=None,
            external_id=external_id,
            external_url=external_url,
            uploaded_bytes=publication.size_bytes,
            published_at=now,
            updated_at=now,
        )
        if done:
            channel = await ChannelRepository(self.session).get_unscoped(publication.channel_id)
            await emit(
                self.session,
                self.settings,
                publication.owner_id,
                EventType.PUBLICATION_PUBLISHED,
                publication.id,
                {
                    "publication_id": publication.id,
                    "channel_id": publication.channel_id,
                    "channel_name": channel.name if channel else None,
                    "title": publication.title,
                    "external_id": external_id,
                    "url": external_url,
                },
            )
        await self.session.commit()

    async def fail(self, publication_id: str, error: str) -> None:
        """The publish job gave up (the caller's transaction marks the job too and commits)."""
        publication = await self.publications.get_unscoped(publication_id)
        if publication is None or publication.status in FINISHED_PUBLICATION_STATUSES:
            return
        now = utcnow()
        await self.publications.update(
            publication_id,
            status=PublicationStatus.FAILED,
            error=error[:4000],
            status_detail=None,
            updated_at=now,
        )
        channel = await ChannelRepository(self.session).get_unscoped(publication.channel_id)
        await emit(
            self.session,
            self.settings,
            publication.owner_id,
            EventType.PUBLICATION_FAILED,
            publication.id,
            {
                "publication_id": publication.id,
                "channel_id": publication.channel_id,
                "channel_name": channel.name if channel else None,
                "title": publication.title,
                "error": error[:1000],
            },
        )

    async def source_of(self, publication: Publication) -> Source:
        """The stored object that gets published."""
        if publication.artifact_id:
            artifact = await RunRepository(self.session).artifact_unscoped(publication.artifact_id)
            if artifact is None:
                raise NotFound("the clip to publish was deleted")
            return Source(
                artifact.storage_key,
                artifact.content_type,
                artifact.size_bytes,
                artifact.name.rsplit("/", 1)[-1],
            )
        video = await VideoRepository(self.session).get(publication.owner_id, publication.video_id or "")
        if video is None:
            raise NotFound("the video to publish was deleted")
        return Source(video.storage_key, video.content_type, video.size_bytes, video.filename)

    async def download_url_of(self, publication: Publication) -> str | None:
        """A link to fetch what gets published, valid for a day where storage can presign."""
        if publication.artifact_id:
            artifact = await RunRepository(self.session).artifact_unscoped(publication.artifact_id)
            if artifact is not None:
                return RunService(self.session, self.settings).download_url(artifact)
        source = await self.source_of(publication)
        storage = get_storage(self.settings)
        if not storage.supports_presigned:
            return None
        return storage.presigned_get(source.key, 24 * 3600, filename=source.name)

    async def thumbnail_of(self, publication: Publication) -> tuple[str, str] | None:
        if not publication.thumbnail_artifact_id:
            return None
        artifact = await RunRepository(self.session).artifact_unscoped(publication.thumbnail_artifact_id)
        return (artifact.storage_key, artifact.content_type) if artifact is not None else None

    # --- helpers --------------------------------------------------------------------
    async def _with_clip_metadata(
        self, owner_id: str, body: PublicationCreate
    ) -> tuple[PublicationCreate, str | None]:
        """The request with what it leaves out (title, description, tags) taken from the
        metadata its clip's run wrote; and that metadata's Telegram caption when the request
        gave none of the three (a caption written for other texts would not match them)."""
        given = {"title": body.title, "description": body.description, "tags": body.tags}
        texts = None
        if body.artifact_id and any(value is None for value in given.values()):
            texts = await RunService(self.session, self.settings).clip_metadata(owner_id, body.artifact_id)
        if texts is None:
            if body.title is None:
                raise ValidationFailed(
                    "title is required: only a clip whose run wrote metadata (the `metadata` "
                    "component, e.g. in the clips-ai profile) has a title to fall back on",
                    field="title",
                )
            return body, None
        filled = {name: texts[name] if value is None else value for name, value in given.items()}
        caption = texts.get(TELEGRAM_CAPTION) if all(value is None for value in given.values()) else None
        return body.model_copy(update=filled), caption

    async def _source_size(self, owner_id: str, body: PublicationCreate) -> int:
        runs = RunRepository(self.session)
        if body.thumbnail_artifact_id:
            thumbnail = await runs.artifact(owner_id, body.thumbnail_artifact_id)
            if thumbnail is None:
                raise NotFound(f"no artifact {body.thumbnail_artifact_id}")
            if not thumbnail.content_type.startswith("image/"):
                raise ValidationFailed(
                    "thumbnail_artifact_id must name an image", field="thumbnail_artifact_id"
                )
        if body.artifact_id:
            artifact = await runs.artifact(owner_id, body.artifact_id)
            if artifact is None:
                raise NotFound(f"no artifact {body.artifact_id}")
            if not artifact.content_type.startswith("video/"):
                raise ValidationFailed(
                    f"artifact {artifact.name} is {artifact.content_type}, not a video", field="artifact_id"
                )
            return artifact.size_bytes
        video = await VideoRepository(self.session).get(owner_id, body.video_id or "")
        if video is None:
            raise NotFound(f"no video {body.video_id}")
        if not video.has_video:
            raise ValidationFailed(
                "this upload has no video stream; only videos can be published", field="video_id"
            )
        return video.size_bytes

    async def _reload(self, publication_id: str) -> Publication:
        publication = await self.publications.get_unscoped(publication_id)
        if publication is None:
            raise NotFound(f"no publication {publication_id}")
        return publication
