"""Publishers: take a publication to YouTube, Telegram or a webhook.

Each step that the provider would not want repeated is recorded before the next one:
the YouTube upload session before the first byte, the video id the moment YouTube
answers. A retry (after a crash, a 5xx, a SIGKILL) resumes the session or, with a
video id already stored, never uploads again.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kadr.channels.models import Channel, ChannelKind
from kadr.channels.service import ChannelService, google_config
from kadr.config import Settings
from kadr.core.crypto import secret_box
from kadr.core.db import get_database
from kadr.core.errors import Cancelled, PermanentJobError, RetryLater
from kadr.core.logging import get_logger
from kadr.jobs.registry import JobContext
from kadr.providers import google, telegram, webhooks
from kadr.publications import quota
from kadr.publications.models import Publication
from kadr.publications.service import PublicationService
from kadr.runs.repository import RunRepository
from kadr.runs.service import RunService
from kadr.storage import get_storage

log = get_logger(__name__)

#: Upload progress is written at most this often.
PROGRESS_EVERY_SECONDS = 1.0


@asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[PublicationService]:
    async with get_database(settings).session() as session:
        yield PublicationService(session, settings)


@asynccontextmanager
async def _local_copy(
    settings: Settings, publication: Publication, key: str, name: str
) -> AsyncIterator[Path]:
    """The object at `key` as a scratch file, removed afterwards."""
    folder = settings.resolved_work_dir / "publish" / publication.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(name).name
    try:
        await asyncio.to_thread(get_storage(settings).get_file, key, path)
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def publish(context: JobContext, publication: Publication, channel: Channel) -> dict[str, Any]:
    if channel.kind == ChannelKind.YOUTUBE:
        return await _publish_youtube(context, publication, channel)
    if channel.kind == ChannelKind.TELEGRAM:
        return await _publish_telegram(context, publication, channel)
    return await _publish_webhook(context, publication, channel)


# --- YouTube --------------------------------------------------------------------------
def _metadata(publication: Publication) -> google.VideoMetadata:
    return google.VideoMetadata(
        title=publication.title,
        description=publication.description,
        tags=tuple(publication.tags),
        privacy_status=publication.privacy,
        made_for_kids=publication.made_for_kids,
        notify_subscribers=publication.notify_subscribers,
    )


async def _access_token(settings: Settings, channel: Channel, *, force_refresh: bool = False) -> str:
    async with get_database(settings).session() as session:
        return await ChannelService(session, settings).youtube_access_token(
            channel, force_refresh=force_refresh
        )


async def _publish_youtube(context: JobContext, publication: Publication, channel: Channel) -> dict[str, Any]:
    settings = context.settings
    video_id = publication.external_id
    async with google.GoogleClient(google_config(settings)) as client:
        try:
            if video_id is None:
                video_id = await _upload_to_youtube(context, client, publication, channel)
            if publication.thumbnail_artifact_id and not publication.thumbnail_set:
                await _set_thumbnail(context, client, publication, channel, video_id)
        except google.QuotaExceeded as exc:
            bucket = quota.UPLOADS if video_id is None else quota.UNITS
            async with _service(settings) as service:
                raise await service.quota_exhausted(publication.id, bucket, exc.message) from exc
        except google.UploadSessionGone as exc:
            # The session expired before it finished: no video exists; the retry starts a new one.
            async with _service(settings) as service:
                await service.record(publication.id, upload_session_url=None, uploaded_bytes=0)
            raise google.TransientGoogleError(f"upload session expired: {exc}") from exc
        except google.PermanentGoogleError as exc:
            if exc.status == 401:
                # The access token went stale mid-upload: refresh and let the retry resume.
                await _access_token(settings, channel, force_refresh=True)
                raise google.TransientGoogleError(f"access token refused, refreshed: {exc}") from exc
            raise PermanentJobError(f"YouTube refused the upload: {exc}") from exc
    url = google.video_url(video_id)
    async with _service(settings) as service:
        await service.published(publication.id, video_id, url)
    return {"video_id": video_id, "url": url}


async def _upload_to_youtube(
    context: JobContext, client: google.GoogleClient, publication: Publication, channel: Channel
) -> str:
    settings = context.settings
    async with _service(settings) as service:
        key, content_type, size, name = await service.source_of(publication)
    token = await _access_token(settings, channel)
    session_url = publication.upload_session_url
    start = 0
    if session_url:
        try:
            status = await client.upload_status(session_url, size, access_token=token)
        except google.UploadSessionGone:
            session_url = None
        else:
            if status.video is not None:
                # YouTube finished the upload before our last attempt learned the id.
                video_id = str(status.video["id"])
                async with _service(settings) as service:
                    await service.record(publication.id, external_id=video_id, uploaded_bytes=size)
                return video_id
            start = status.received
    if not session_url:
        async with _service(settings) as service:
            await service.take_slot(publication.id, channel)
            await service.reserve_quota(publication.id, ["videos.insert"])
        session_url = await client.create_upload_session(token, _metadata(publication), size, content_type)
        async with _service(settings) as service:
            await service.record(
                publication.id,
                upload_session_url=session_url,
                size_bytes=size,
                uploaded_bytes=0,
                status_detail="uploading to YouTube",
            )
    last_report = 0.0

    async def progress(sent: int, total: int) -> None:
        nonlocal last_report
        if context.drain_event.is_set():
            # Shutting down: the session is stored, so stopping here costs nothing.
            raise RetryLater(0, "worker shut down during the upload; the session resumes on another worker")
        if context.cancel_event.is_set():
            raise Cancelled("the job's lease was lost")
        if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS or sent >= total:
            last_report = time.monotonic()
            async with _service(settings) as service:
                await service.record(publication.id, uploaded_bytes=sent)

    async with _local_copy(settings, publication, key, name) as path:
        video = await client.upload(
            session_url,
            path,
            size,
            access_token=token,
            chunk_size=settings.youtube_chunk_bytes,
            start=start,
            on_progress=progress,
        )
    video_id = str(video["id"])
    async with _service(settings) as service:
        await service.record(
            publication.id, external_id=video_id, uploaded_bytes=size, status_detail="uploaded to YouTube"
        )
    log.info("uploaded to YouTube", publication_id=publication.id, video_id=video_id)
    return video_id


async def _set_thumbnail(
    context: JobContext,
    client: google.GoogleClient,
    publication: Publication,
    channel: Channel,
    video_id: str,
) -> None:
    settings = context.settings
    async with _service(settings) as service:
        found = await service.thumbnail_of(publication)
        if found is None:
            return
        await service.reserve_quota(publication.id, ["thumbnails.set"])
    key, content_type = found
    token = await _access_token(settings, channel)
    async with _local_copy(settings, publication, key, Path(key).name) as path:
        await client.set_thumbnail(token, video_id, path, content_type)
    async with _service(settings) as service:
        await service.record(publication.id, thumbnail_set=True)


# --- Telegram -------------------------------------------------------------------------
def _caption(publication: Publication) -> str:
    parts = [publication.title]
    if publication.description:
        parts.append(publication.description)
    if publication.tags:
        parts.append(
            " ".join("#" + "".join(ch for ch in tag if ch.isalnum() or ch == "_") for tag in publication.tags)
        )
    return "\n\n".join(parts)


async def _publish_telegram(
    context: JobContext, publication: Publication, channel: Channel
) -> dict[str, Any]:
    settings = context.settings
    # Set when an earlier attempt posted and recorded the message: it is not sent again.
    message_id, url = publication.external_id, publication.external_url
    if message_id is None:
        async with _service(settings) as service:
            key, _, size, name = await service.source_of(publication)
            await service.take_slot(publication.id, channel)
        bot_token = secret_box(settings).decrypt(channel.secrets)["bot_token"]
        async with (
            telegram.TelegramClient(
                bot_token,
                api_url=settings.telegram_api_url,
                max_upload_bytes=settings.telegram_max_upload_bytes,
            ) as bot,
            _local_copy(settings, publication, key, name) as path,
        ):
            try:
                message = await bot.send_video(channel.config["chat_id"], path, caption=_caption(publication))
            except telegram.TelegramRetryAfter as exc:
                async with _service(settings) as service:
                    raise await service.wait(
                        publication.id, exc.retry_after, f"Telegram asked to wait {exc.retry_after:g} s"
                    ) from exc
            except telegram.TelegramPermanentError as exc:
                if exc.status in (401, 403):
                    async with get_database(settings).session() as session:
                        await ChannelService(session, settings).mark_needs_reauth(
                            channel, f"Telegram refused the bot: {exc.description}"
                        )
                        await session.commit()
                raise PermanentJobError(f"Telegram refused the video: {exc.description}") from exc
        message_id = str(message["message_id"])
        url = telegram.message_url(message.get("chat", {}), int(message["message_id"]))
        async with _service(settings) as service:
            await service.record(
                publication.id, external_id=message_id, external_url=url, uploaded_bytes=size
            )
    async with _service(settings) as service:
        await service.published(publication.id, message_id, url)
    return {"message_id": message_id}


# --- webhook --------------------------------------------------------------------------
async def _publish_webhook(context: JobContext, publication: Publication, channel: Channel) -> dict[str, Any]:
    """POST the publication with a download link; the webhook-id is the publication id, so a
    retried delivery is recognisably the same message."""
    settings = context.settings
    async with get_database(settings).session() as session:
        download_url = None
        runs = RunService(session, settings)
        if publication.artifact_id:
            artifact = await RunRepository(session).artifact_unscoped(publication.artifact_id)
            download_url = runs.download_url(artifact) if artifact is not None else None
        key, content_type, size, name = await PublicationService(session, settings).source_of(publication)
    storage = get_storage(settings)
    if download_url is None and storage.supports_presigned:
        download_url = storage.presigned_get(key, 24 * 3600, filename=name)
    payload = {
        "type": "publication.ready",
        "timestamp": publication.publish_at.isoformat(),
        "data": {
            "publication_id": publication.id,
            "title": publication.title,
            "description": publication.description,
            "tags": publication.tags,
            "privacy": publication.privacy,
            "filename": name,
            "content_type": content_type,
            "size_bytes": size,
            "download_url": download_url,
        },
    }
    secret = secret_box(settings).decrypt(channel.secrets)["signing_secret"]
    try:
        status = await webhooks.deliver(
            channel.config["url"],
            secret,
            publication.id,
            payload,
            allowed_private=settings.allowed_private_hosts,
        )
    except webhooks.WebhookPermanentError as exc:
        raise PermanentJobError(f"the webhook refused the publication: {exc}") from exc
    async with _service(settings) as service:
        await service.published(publication.id, publication.id, None)
    return {"status": status}
