"""YouTube: resumable, idempotent uploads under per-channel pacing and the project's daily quota.

Each step YouTube would not want repeated is recorded before the next one: the upload
session before the first byte, the video id the moment YouTube answers. A retry (after a
crash, a 5xx, a SIGKILL) resumes the session or, with a video id already stored, never
uploads again.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kadr.channels.models import Channel, ChannelKind
from kadr.channels.service import google_config
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Cancelled, PermanentJobError, RetryLater, ValidationFailed
from kadr.core.logging import get_logger
from kadr.jobs.registry import JobContext
from kadr.providers import google
from kadr.publications import quota
from kadr.publications.models import Publication
from kadr.publications.publishers.base import PublishPort
from kadr.publications.schemas import PublicationCreate

if TYPE_CHECKING:
    from kadr.channels.service import ChannelService

log = get_logger(__name__)

#: Upload progress is written at most this often.
PROGRESS_EVERY_SECONDS = 1.0
#: YouTube's limit on all tags together, commas included.
TAGS_LIMIT = 500


def _metadata(publication: Publication) -> google.VideoMetadata:
    return google.VideoMetadata(
        title=publication.title,
        description=publication.description,
        tags=tuple(publication.tags),
        privacy_status=publication.privacy,
        made_for_kids=publication.made_for_kids,
        notify_subscribers=publication.notify_subscribers,
    )


class YouTubePublisher:
    kind = ChannelKind.YOUTUBE

    def pacing_seconds(self, settings: Settings) -> float:
        return settings.youtube_upload_interval_seconds

    def check_fits(self, settings: Settings, body: PublicationCreate, size: int) -> None:
        for field, text in (("title", body.title or ""), ("description", body.description or "")):
            if "<" in text or ">" in text:
                raise ValidationFailed(f"YouTube does not accept < or > in the {field}", field=field)
        if len(",".join(body.tags or [])) > TAGS_LIMIT:
            raise ValidationFailed(f"YouTube allows at most {TAGS_LIMIT} characters of tags", field="tags")

    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        await channels.youtube_access_token(channel, force_refresh=True)

    async def publish(
        self, context: JobContext, publication: Publication, channel: Channel, port: PublishPort
    ) -> dict[str, Any]:
        settings = context.settings
        video_id = publication.external_id
        async with google.GoogleClient(google_config(settings)) as client:
            try:
                if video_id is None:
                    video_id = await self._upload(context, client, publication, port)
                if publication.thumbnail_artifact_id and not publication.thumbnail_set:
                    await self._set_thumbnail(settings, client, port, video_id)
            except google.QuotaExceeded as exc:
                bucket = quota.UPLOADS if video_id is None else quota.UNITS
                now = utcnow()
                project = settings.google_client_id
                limit = quota.daily_limits(settings)[bucket]
                await port.exhaust_quota(project, quota.provider_day(now), bucket, limit)
                why = f"YouTube answered quotaExceeded ({exc.message})"
                raise await self._wait_for_reset(settings, port, now, why) from exc
            except google.UploadSessionGone as exc:
                # The session expired before it finished: no video exists; the retry starts a new one.
                await port.record(upload_session_url=None, uploaded_bytes=0)
                raise google.TransientGoogleError(f"upload session expired: {exc}") from exc
            except google.PermanentGoogleError as exc:
                if exc.status == 401:
                    # The access token went stale mid-upload: refresh and let the retry resume.
                    await port.access_token(force_refresh=True)
                    raise google.TransientGoogleError(f"access token refused, refreshed: {exc}") from exc
                raise PermanentJobError(f"YouTube refused the upload: {exc}") from exc
        url = google.video_url(video_id)
        await port.published(video_id, url)
        return {"video_id": video_id, "url": url}

    async def _upload(
        self, context: JobContext, client: google.GoogleClient, publication: Publication, port: PublishPort
    ) -> str:
        settings = context.settings
        source = await port.source()
        token = await port.access_token()
        session_url = publication.upload_session_url
        start = 0
        if session_url:
            try:
                status = await client.upload_status(session_url, source.size, access_token=token)
            except google.UploadSessionGone:
                session_url = None
            else:
                if status.video is not None:
                    # YouTube finished the upload before our last attempt learned the id.
                    video_id = str(status.video["id"])
                    await port.record(external_id=video_id, uploaded_bytes=source.size)
                    return video_id
                start = status.received
        if not session_url:
            await port.take_slot(self.pacing_seconds(settings))
            await self._reserve_quota(settings, port, ["videos.insert"])
            session_url = await client.create_upload_session(
                token, _metadata(publication), source.size, source.content_type
            )
            await port.record(
                upload_session_url=session_url,
                size_bytes=source.size,
                uploaded_bytes=0,
                status_detail="uploading to YouTube",
            )
        last_report = 0.0

        async def progress(sent: int, total: int) -> None:
            nonlocal last_report
            if context.drain_event.is_set():
                # Shutting down: the session is stored, so stopping here costs nothing.
                raise RetryLater(
                    0, "worker shut down during the upload; the session resumes on another worker"
                )
            if context.cancel_event.is_set():
                raise Cancelled("the job's lease was lost")
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS or sent >= total:
                last_report = time.monotonic()
                await port.record(uploaded_bytes=sent)

        async with port.local_copy(source.key, source.name) as path:
            video = await client.upload(
                session_url,
                path,
                source.size,
                access_token=token,
                chunk_size=settings.youtube_chunk_bytes,
                start=start,
                on_progress=progress,
            )
        video_id = str(video["id"])
        await port.record(
            external_id=video_id, uploaded_bytes=source.size, status_detail="uploaded to YouTube"
        )
        log.info("uploaded to YouTube", publication_id=publication.id, video_id=video_id)
        return video_id

    async def _set_thumbnail(
        self, settings: Settings, client: google.GoogleClient, port: PublishPort, video_id: str
    ) -> None:
        found = await port.thumbnail()
        if found is None:
            return
        await self._reserve_quota(settings, port, ["thumbnails.set"])
        key, content_type = found
        token = await port.access_token()
        async with port.local_copy(key, key.rsplit("/", 1)[-1]) as path:
            await client.set_thumbnail(token, video_id, path, content_type)
        await port.record(thumbnail_set=True)

    async def _reserve_quota(self, settings: Settings, port: PublishPort, methods: list[str]) -> None:
        """Spend the quota these calls need, or wait for the Pacific-midnight reset."""
        now = utcnow()
        spent = await port.spend_quota(
            settings.google_client_id,
            quota.provider_day(now),
            quota.costs_of(methods),
            quota.daily_limits(settings),
        )
        if not spent:
            raise await self._wait_for_reset(settings, port, now, "the daily YouTube quota is used up")

    async def _wait_for_reset(
        self, settings: Settings, port: PublishPort, now: datetime, why: str
    ) -> RetryLater:
        reset = quota.next_reset(now)
        reason = (
            f"{why} for Google project {settings.google_client_id}; "
            f"waits for the reset at {reset.isoformat(timespec='minutes')} (midnight Pacific)"
        )
        log.warning("publication waits for quota", reset=reset.isoformat())
        # A little past midnight: Google's clock and ours are not the same clock.
        return await port.wait((reset - now).total_seconds() + 30, reason)
