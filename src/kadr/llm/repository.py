"""Every query on the gateway's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from kadr.core.repository import Repository
from kadr.llm.models import LLMCallRecord, RenderCacheEntry


class LLMCallRepository(Repository[LLMCallRecord]):
    model = LLMCallRecord

    async def tokens_since(self, owner_id: str, since: datetime) -> int:
        """Tokens (in + out) the owner's calls spent since `since`."""
        query = select(func.coalesce(func.sum(LLMCallRecord.tokens_in + LLMCallRecord.tokens_out), 0)).where(
            LLMCallRecord.owner_id == owner_id, LLMCallRecord.created_at >= since
        )
        return int((await self.session.execute(query)).scalar_one())


class RenderCacheRepository(Repository[RenderCacheEntry]):
    model = RenderCacheEntry

    async def fresh_entry(self, owner_id: str, key: str, now: datetime) -> RenderCacheEntry | None:
        query = select(RenderCacheEntry).where(
            RenderCacheEntry.key == key,
            RenderCacheEntry.owner_id == owner_id,
            RenderCacheEntry.expires_at > now,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def count_hit(self, key: str) -> None:
        await self.session.execute(
            update(RenderCacheEntry).where(RenderCacheEntry.key == key).values(hits=RenderCacheEntry.hits + 1)
        )

    async def remove(self, key: str) -> None:
        await self.session.execute(delete(RenderCacheEntry).where(RenderCacheEntry.key == key))

    async def remove_expired(self, key: str, now: datetime) -> None:
        await self.session.execute(
            delete(RenderCacheEntry).where(RenderCacheEntry.key == key, RenderCacheEntry.expires_at <= now)
        )

    async def delete_expired(self, now: datetime) -> int:
        outcome = await self.session.execute(
            delete(RenderCacheEntry).where(RenderCacheEntry.expires_at <= now)
        )
        return int(outcome.rowcount or 0)  # type: ignore[attr-defined]
