"""Glossaries over HTTP: `/v1/glossaries/{source}/{target}`, one per language pair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from kadr.accounts.dependencies import RunsRead, RunsWrite
from kadr.core.deps import SessionDep
from kadr.core.http import problem_responses
from kadr.core.pagination import PageDep, Paginated
from kadr.glossaries.schemas import GlossaryIn, GlossaryOut, GlossarySummary
from kadr.glossaries.service import GlossaryService

router = APIRouter(tags=["glossaries"])
Language = Annotated[str, Path(pattern=r"^[a-z]{2,3}$", description="An ISO 639-1 code, e.g. en, ru")]


@router.get("/glossaries", response_model=Paginated[GlossarySummary])
async def list_glossaries(user: RunsRead, session: SessionDep, page: PageDep) -> Paginated[GlossarySummary]:
    """Your glossaries, one per language pair, by source and target."""
    return Paginated[GlossarySummary].of(await GlossaryService(session).page(user.id, page), page)


@router.get("/glossaries/{source}/{target}", response_model=GlossaryOut)
async def get_glossary(
    source: Language, target: Language, user: RunsRead, session: SessionDep
) -> GlossaryOut:
    return await GlossaryService(session).get(user.id, source, target)


@router.put("/glossaries/{source}/{target}", response_model=GlossaryOut, responses=problem_responses(422))
async def put_glossary(
    source: Language,
    target: Language,
    body: GlossaryIn,
    user: RunsWrite,
    session: SessionDep,
    response: Response,
) -> GlossaryOut:
    """Set the terms of a language pair (all of them: what is not given is removed). Runs
    created from now on translate with them; runs made before keep what they used."""
    glossary, created = await GlossaryService(session).put(user.id, source, target, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return glossary


@router.delete("/glossaries/{source}/{target}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_glossary(source: Language, target: Language, user: RunsWrite, session: SessionDep) -> None:
    await GlossaryService(session).delete(user.id, source, target)
