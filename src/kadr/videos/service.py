"""Videos: validate by probing the content (never the extension), store, list, delete.

Two ways in:
- `POST /v1/videos` streams the body through the API to scratch, probes it, stores it.
- `POST /v1/uploads` hands the client a URL (S3 presigned PUT or parts, or a signed
  URL of this API in embedded mode); `complete` queues an ingest job that hashes
  and probes the stored object on a worker.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, InvalidMedia, NotFound, PayloadTooLarge, ValidationFailed
from kadr.core.hashing import sha256_file
from kadr.core.ids import new_id
from kadr.core.pagination import Page, PageResult
from kadr.core.signing import sign, verify
from kadr.core.streaming import ReceivedFile, receive_file
from kadr.jobs import service as jobs
from kadr.media.probe import MediaInfo, probe_media
from kadr.storage import Storage, get_storage
from kadr.videos.models import Upload, UploadStatus, Video
from kadr.videos.repository import UploadRepository, VideoRepository

UPLOAD_TTL = timedelta(hours=24)
SINGLE_PUT_LIMIT = 64 * 1024**2
MIN_PART_SIZE = 8 * 1024**2
MAX_PARTS = 10_000


#: (session, settings, owner id, video id) -> storage keys no record uses any more. Domains that keep
#: rows about a video (runs) register one with `on_video_delete`: it removes their rows in the delete
#: transaction, without committing. A port, so that videos does not import the domains built on it.
VideoDetacher = Callable[[AsyncSession, Settings, str, str], Awaitable[list[str]]]
_DETACHERS: list[VideoDetacher] = []


def on_video_delete(detacher: VideoDetacher) -> VideoDetacher:
    """Register `detacher` to run whenever a video is deleted."""
    if detacher not in _DETACHERS:
        _DETACHERS.append(detacher)
    return detacher


def source_key(video_id: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        suffix = ".bin"
    return f"videos/{video_id}/source{suffix}"


def _video_from(
    video_id: str,
    owner_id: str,
    filename: str,
    content_type: str,
    size: int,
    sha256: str,
    key: str,
    info: MediaInfo,
) -> Video:
    return Video(
        id=video_id,
        owner_id=owner_id,
        filename=filename,
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
        storage_key=key,
        duration_seconds=info.duration,
        has_video=info.has_video,
        has_audio=info.has_audio,
        width=info.display_width if info.has_video else None,
        height=info.display_height if info.has_video else None,
        media_info=info.to_dict(),
        created_at=utcnow(),
    )


@dataclass
class DeletedObjects:
    keys: list[str]


class VideoService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.videos = VideoRepository(session)
        self.uploads = UploadRepository(session)

    @property
    def storage(self) -> Storage:
        return get_storage(self.settings)

    def scratch_path(self, name: str) -> Path:
        folder = self.settings.resolved_work_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    async def upload(
        self, owner_id: str, body: AsyncIterator[bytes], content_type: str, filename: str | None = None
    ) -> Video:
        """Receive a video from a request body (multipart, or raw with its Content-Type) and ingest it."""
        # The body may take minutes: end the auth read's transaction so nothing waits on it.
        await self.session.commit()
        received = await receive_file(
            body,
            content_type,
            self.scratch_path(new_id("rcv")),
            self.settings.max_upload_bytes,
            default_filename=filename or "upload",
        )
        return await self.ingest_received(owner_id, received)

    async def ingest_received(self, owner_id: str, received: ReceivedFile) -> Video:
        """Probe a file the API received, store it and record the video. 422 if it is not media."""
        try:
            if received.size == 0:
                raise InvalidMedia("the file is empty (0 bytes)")
            info = await asyncio.to_thread(probe_media, received.path)
            video_id = new_id("vid")
            key = source_key(video_id, received.filename)
            await asyncio.to_thread(self.storage.put_file, key, received.path, received.content_type)
        finally:
            received.path.unlink(missing_ok=True)
        video = _video_from(
            video_id,
            owner_id,
            received.filename,
            received.content_type,
            received.size,
            received.sha256,
            key,
            info,
        )
        self.videos.add(video)
        await self.session.commit()
        return video

    async def get(self, owner_id: str, video_id: str) -> Video:
        video = await self.videos.get(owner_id, video_id)
        if video is None:
            raise NotFound(f"no video {video_id}")
        return video

    async def list_page(self, owner_id: str, page: Page) -> PageResult[Video]:
        return await self.videos.list_page(owner_id, page.limit, page.offset)

    async def delete(self, owner_id: str, video_id: str) -> None:
        """Delete a video, its runs and every stored object no other record still uses."""
        video = await self.get(owner_id, video_id)
        orphaned: list[str] = []
        for detach in _DETACHERS:
            orphaned += await detach(self.session, self.settings, owner_id, video.id)
        source = video.storage_key
        await self.videos.delete(video)
        await self.session.flush()
        if await self.videos.count_with_storage_key(source) == 0:
            orphaned.append(source)
        await self.session.commit()
        # Objects go after the commit: a failed commit must not leave rows pointing at nothing.
        await asyncio.to_thread(_delete_keys, self.storage, orphaned)

    # --- presigned uploads -------------------------------------------------

    def upload_options(self) -> tuple[bool, int]:
        """(whether uploads can go straight to object storage, the size limit in bytes)."""
        return self.storage.supports_presigned, self.settings.max_upload_bytes

    async def create_upload(
        self, owner_id: str, filename: str, content_type: str, size_bytes: int
    ) -> tuple[Upload, dict[str, Any]]:
        if size_bytes > self.settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the file is larger than the limit of {self.settings.max_upload_bytes} bytes"
            )
        upload_id = new_id("upl")
        video_id = new_id("vid")
        key = source_key(video_id, filename)
        expires_at = utcnow() + UPLOAD_TTL
        upload = Upload(
            id=upload_id,
            owner_id=owner_id,
            filename=filename,
            content_type=content_type,
            size_bytes=size_bytes,
            storage_key=key,
            status=UploadStatus.PENDING,
            video_id=video_id,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        instructions: dict[str, Any] = {}
        storage = self.storage
        ttl = int(UPLOAD_TTL.total_seconds())
        if not storage.supports_presigned:
            token = sign(self.settings, "upload", upload_id, ttl)
            instructions["upload_url"] = (
                f"{self.settings.resolved_public_url}/v1/uploads/{upload_id}/content?token={token}"
            )
        elif size_bytes <= SINGLE_PUT_LIMIT:
            instructions["upload_url"] = await asyncio.to_thread(
                storage.presigned_put, key, ttl, content_type
            )
        else:
            part_size = max(MIN_PART_SIZE, math.ceil(size_bytes / MAX_PARTS))
            part_count = math.ceil(size_bytes / part_size)
            multipart_id = await asyncio.to_thread(storage.create_multipart_upload, key, content_type)
            upload.multipart_upload_id = multipart_id
            upload.part_size = part_size
            urls = await asyncio.to_thread(
                lambda: [
                    {"part_number": n, "url": storage.presigned_upload_part(key, multipart_id, n, ttl)}
                    for n in range(1, part_count + 1)
                ]
            )
            instructions["part_size"] = part_size
            instructions["parts"] = urls
        self.uploads.add(upload)
        await self.session.commit()
        return upload, instructions

    async def get_upload(self, owner_id: str, upload_id: str) -> Upload:
        upload = await self.uploads.get(owner_id, upload_id)
        if upload is None:
            raise NotFound(f"no upload {upload_id}")
        return upload

    async def pending_upload_for_content(self, upload_id: str, token: str) -> Upload:
        """The upload a signed content URL names; 403 (or 401 expired) if the token is not valid."""
        verify(self.settings, "upload", token, upload_id)
        upload = await self.uploads.get_unscoped(upload_id)
        if upload is None:
            raise NotFound(f"no upload {upload_id}")
        if upload.status != UploadStatus.PENDING:
            raise Conflict(f"upload {upload_id} is {upload.status}; content can no longer be sent")
        # Release the read transaction: the body may take minutes to arrive.
        await self.session.commit()
        return upload

    async def receive_upload_content(self, upload: Upload, body: AsyncIterator[bytes]) -> None:
        """Store a pending upload's bytes sent to this API (embedded mode's presigned PUT)."""
        received = await receive_file(
            body, "application/octet-stream", self.scratch_path(new_id("rcv")), upload.size_bytes
        )
        try:
            await asyncio.to_thread(
                self.storage.put_file, upload.storage_key, received.path, upload.content_type
            )
        finally:
            received.path.unlink(missing_ok=True)

    async def complete_upload(
        self, owner_id: str, upload_id: str, parts: list[tuple[int, str]] | None
    ) -> Upload:
        upload = await self.get_upload(owner_id, upload_id)
        if upload.status != UploadStatus.PENDING:
            return upload  # completing twice is harmless
        if upload.expires_at < utcnow():
            raise Conflict(f"upload {upload_id} expired; start a new one")
        storage = self.storage
        if upload.multipart_upload_id:
            if not parts:
                raise ValidationFailed("this upload was sent in parts: list every part's number and ETag")
            await asyncio.to_thread(
                storage.complete_multipart_upload, upload.storage_key, upload.multipart_upload_id, parts
            )
        if not await asyncio.to_thread(storage.exists, upload.storage_key):
            raise Conflict("no content was uploaded yet; PUT the file to the upload URL first")
        upload.status = UploadStatus.PROCESSING
        await jobs.enqueue(
            self.session, self.settings, "video.ingest", {"upload_id": upload.id}, owner_id=owner_id
        )
        await self.session.commit()
        return upload

    async def ingest_upload(self, upload_id: str) -> None:
        """Worker side of `complete`: hash and probe the stored object, then record the video."""
        upload = await self.uploads.get_unscoped(upload_id)
        if upload is None or upload.status != UploadStatus.PROCESSING or upload.video_id is None:
            return
        storage = self.storage
        local = storage.local_path(upload.storage_key)
        scratch: Path | None = None
        if local is None:
            scratch = self.scratch_path(f"{upload.id}.download")
            await asyncio.to_thread(storage.get_file, upload.storage_key, scratch)
            local = scratch
        try:
            size = local.stat().st_size
            sha256 = await asyncio.to_thread(sha256_file, local)
            try:
                if size == 0:
                    raise InvalidMedia("the file is empty (0 bytes)")
                info = await asyncio.to_thread(probe_media, local)
            except InvalidMedia as exc:
                upload.status = UploadStatus.REJECTED
                upload.error = exc.detail
                await self.session.commit()
                await asyncio.to_thread(storage.delete, upload.storage_key)
                return
        finally:
            if scratch is not None:
                scratch.unlink(missing_ok=True)
        video = _video_from(
            upload.video_id,
            upload.owner_id,
            upload.filename,
            upload.content_type,
            size,
            sha256,
            upload.storage_key,
            info,
        )
        self.videos.add(video)
        upload.status = UploadStatus.COMPLETED
        await self.session.commit()


def _delete_keys(storage: Storage, keys: list[str]) -> None:
    for key in dict.fromkeys(keys):
        storage.delete(key)
