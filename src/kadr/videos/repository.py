"""Every query on videos and uploads, scoped to an owner unless named otherwise."""

from __future__ import annotations

from sqlalchemy import func, select

from kadr.core.repository import Repository
from kadr.videos.models import Upload, Video


class VideoRepository(Repository[Video]):
    model = Video

    async def find_by_sha256(self, owner_id: str, sha256: str) -> Video | None:
        found = await self.list(owner_id, Video.sha256 == sha256, limit=1)
        return found[0] if found else None

    async def count_with_storage_key(self, storage_key: str) -> int:
        """Every owner's videos: an object is deleted only once no video at all uses it."""
        return int(
            await self.session.scalar(select(func.count()).where(Video.storage_key == storage_key)) or 0
        )


class UploadRepository(Repository[Upload]):
    """`get_unscoped` is for the signed upload-content URL, whose token names the upload itself."""

    model = Upload
