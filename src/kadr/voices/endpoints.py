"""Voices over HTTP: what this installation speaks with, and your speaker→voice maps."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from kadr.accounts.dependencies import RunsRead, RunsWrite
from kadr.core.deps import SessionDep
from kadr.core.http import problem_responses
from kadr.core.pagination import PageDep, Paginated
from kadr.media.speech import voices
from kadr.voices.schemas import LanguagesOut, VoiceMapIn, VoiceMapOut, VoiceOut
from kadr.voices.service import VoiceMapService, languages

router = APIRouter(tags=["voices"])
MapName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Your name for the map")]


@router.get("/voices", response_model=list[VoiceOut])
async def list_voices(user: RunsRead) -> list[VoiceOut]:
    """The voices this installation speaks with, per language, best first: what a run's
    `dub.voices` may name (`{"ru": "festival:msu_ru_nsh_clunits"}`)."""
    found = await asyncio.to_thread(voices)
    best = {voice.language: voice.id for voice in reversed(found)}
    return [
        VoiceOut(id=v.id, engine=v.engine, language=v.language, default=best[v.language] == v.id)
        for v in found
    ]


@router.get("/languages", response_model=LanguagesOut)
async def list_languages(user: RunsRead) -> LanguagesOut:
    """What this installation can do in which language: hear, translate into, speak."""
    return await asyncio.to_thread(languages)


@router.get("/voices/maps", response_model=Paginated[VoiceMapOut])
async def list_voice_maps(user: RunsRead, session: SessionDep, page: PageDep) -> Paginated[VoiceMapOut]:
    """Your speaker→voice maps, by name."""
    return Paginated[VoiceMapOut].of(await VoiceMapService(session).page(user.id, page), page)


@router.get("/voices/maps/{name}", response_model=VoiceMapOut)
async def get_voice_map(name: MapName, user: RunsRead, session: SessionDep) -> VoiceMapOut:
    return await VoiceMapService(session).get(user.id, name)


@router.put("/voices/maps/{name}", response_model=VoiceMapOut, responses=problem_responses(422))
async def put_voice_map(
    name: MapName, body: VoiceMapIn, user: RunsWrite, session: SessionDep, response: Response
) -> VoiceMapOut:
    """Set the map (all of it). A run uses it with `"dub": {"voice_map": "<name>"}`; runs made
    before keep the voices they used."""
    voice_map, created = await VoiceMapService(session).put(user.id, name, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return voice_map


@router.delete("/voices/maps/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_voice_map(name: MapName, user: RunsWrite, session: SessionDep) -> None:
    await VoiceMapService(session).delete(user.id, name)
