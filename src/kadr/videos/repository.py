"""Every query on videos and uploads, always scoped to an owner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.videos.models import Upload, Video


class VideoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, owner_id: str, video_id: str) -> Video | None:
        result = await self.session.execute(
            select(Video).where(Video.id == video_id, Video.owner_id == owner_id)
        )
        return result.scalar_one_or_none()

    async def find_by_sha256(self, owner_id: str, sha256: str) -> Video | None:
        result = await self.session.execute(
            select(Video)
            .where(Video.owner_id == owner_id, Video.sha256 == sha256)
            .order_by(Video.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def list_page(self, owner_id: str, limit: int, offset: int) -> tuple[Sequence[Video], int]:
        query = select(Video).where(Video.owner_id == owner_id)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit).offset(offset)
        )
        return rows.scalars().all(), int(total or 0)

    def add(self, video: Video) -> None:
        self.session.add(video)

    async def delete(self, video: Video) -> None:
        await self.session.delete(video)

    async def count_with_storage_key(self, storage_key: str) -> int:
        return int(
            await self.session.scalar(select(func.count()).where(Video.storage_key == storage_key)) or 0
        )

    async def get_upload(self, owner_id: str, upload_id: str) -> Upload | None:
        result = await self.session.execute(
            select(Upload).where(Upload.id == upload_id, Upload.owner_id == owner_id)
        )
        return result.scalar_one_or_none()

    async def get_upload_unscoped(self, upload_id: str) -> Upload | None:
        """For the signed upload-content URL, whose token names the owner itself."""
        return await self.session.get(Upload, upload_id)

    def add_upload(self, upload: Upload) -> None:
        self.session.add(upload)
