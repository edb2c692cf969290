"""Glossary rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from kadr.core.pagination import PageResult
from kadr.core.repository import Repository
from kadr.glossaries.models import Glossary


class GlossaryRepository(Repository[Glossary]):
    model = Glossary

    def page_order(self) -> tuple[ColumnElement[Any], ...]:
        return (Glossary.source_language.asc(), Glossary.target_language.asc())

    async def of_pair(self, owner_id: str, source: str, target: str) -> Glossary | None:
        found = await self.list(
            owner_id, Glossary.source_language == source, Glossary.target_language == target, limit=1
        )
        return found[0] if found else None

    async def into(self, owner_id: str, targets: list[str]) -> list[Glossary]:
        """The owner's glossaries into any of `targets`, from whatever source."""
        return list(await self.list(owner_id, Glossary.target_language.in_(targets)))

    async def page(self, owner_id: str, limit: int, offset: int) -> PageResult[Glossary]:
        return await self._page(owner_id, limit, offset)
