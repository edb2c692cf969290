"""Glossaries: kept per owner and language pair, handed to the translate component when a
run is created (so they are part of the run's `config_hash`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.core.clock import utcnow
from kadr.core.errors import NotFound, ValidationFailed
from kadr.core.ids import new_id
from kadr.core.pagination import Page, PageResult
from kadr.glossaries.models import Glossary
from kadr.glossaries.repository import GlossaryRepository
from kadr.glossaries.schemas import GlossaryIn, GlossaryOut, Term


def glossary_out(row: Glossary) -> GlossaryOut:
    return GlossaryOut(
        source_language=row.source_language,
        target_language=row.target_language,
        term_count=len(row.terms),
        updated_at=row.updated_at,
        terms=[Term(term=term, translation=translation) for term, translation in row.terms.items()],
    )


class GlossaryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.glossaries = GlossaryRepository(session)

    async def page(self, owner_id: str, page: Page) -> PageResult[Glossary]:
        return await self.glossaries.page(owner_id, page.limit, page.offset)

    async def get(self, owner_id: str, source: str, target: str) -> GlossaryOut:
        row = await self.glossaries.of_pair(owner_id, source, target)
        if row is None:
            raise NotFound(f"no glossary from {source} to {target}")
        return glossary_out(row)

    async def put(
        self, owner_id: str, source: str, target: str, body: GlossaryIn
    ) -> tuple[GlossaryOut, bool]:
        """Replace the pair's terms (creating the glossary); True when it was created."""
        if source == target:
            raise ValidationFailed("a glossary translates between two different languages", field="target")
        row = await self.glossaries.of_pair(owner_id, source, target)
        created = row is None
        now = utcnow()
        if row is None:
            row = Glossary(
                id=new_id("gls"),
                owner_id=owner_id,
                source_language=source,
                target_language=target,
                created_at=now,
            )
            self.glossaries.add(row)
        row.terms = {item.term: item.translation for item in body.terms}
        row.updated_at = now
        await self.session.commit()
        return glossary_out(row), created

    async def delete(self, owner_id: str, source: str, target: str) -> None:
        row = await self.glossaries.of_pair(owner_id, source, target)
        if row is None:
            raise NotFound(f"no glossary from {source} to {target}")
        await self.glossaries.delete(row)
        await self.session.commit()

    async def for_translation(self, owner_id: str, targets: list[str]) -> dict[str, dict[str, str]]:
        """The owner's terms for a translation into `targets`, as the translate component
        takes them: {"en>ru": {"term": "translation"}}."""
        return {
            f"{row.source_language}>{row.target_language}": dict(row.terms)
            for row in await self.glossaries.into(owner_id, targets)
        }
