"""Voice map rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from kadr.core.pagination import PageResult
from kadr.core.repository import Repository
from kadr.voices.models import VoiceMap


class VoiceMapRepository(Repository[VoiceMap]):
    model = VoiceMap

    def page_order(self) -> tuple[ColumnElement[Any], ...]:
        return (VoiceMap.name.asc(),)

    async def named(self, owner_id: str, name: str) -> VoiceMap | None:
        found = await self.list(owner_id, VoiceMap.name == name, limit=1)
        return found[0] if found else None

    async def page(self, owner_id: str, limit: int, offset: int) -> PageResult[VoiceMap]:
        return await self._page(owner_id, limit, offset)
