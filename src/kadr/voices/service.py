"""Voice maps: kept per owner and name, and put into a run's dub voices when the run names one
(`dub.voice_map`), so a team's voices are the same on every video."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.core.clock import utcnow
from kadr.core.errors import NotFound, ValidationFailed
from kadr.core.ids import new_id
from kadr.core.pagination import Page, PageResult
from kadr.media.apertium import apertium_pairs
from kadr.media.speech import parse_voice, voices
from kadr.pipeline.components.transcribe import whisper_languages
from kadr.pipeline.components.translate import llm_languages
from kadr.voices.models import VoiceMap
from kadr.voices.repository import VoiceMapRepository
from kadr.voices.schemas import SPEAKER, LanguagesOut, VoiceMapIn, VoiceMapOut


def languages() -> LanguagesOut:
    """What the installed models and engines can do, per language (reads no model)."""
    pairs = apertium_pairs()
    speech: dict[str, list[str]] = {}
    for voice in voices():
        speech.setdefault(voice.language, []).append(voice.id)
    return LanguagesOut(
        transcribe=sorted(whisper_languages()),
        translate={"llm": llm_languages(), "apertium": sorted({target for _, target in pairs})},
        apertium_pairs=sorted(f"{source}-{target}" for source, target in pairs),
        speech=speech,
    )


def voice_map_out(row: VoiceMap) -> VoiceMapOut:
    return VoiceMapOut(name=row.name, speakers=row.speakers, updated_at=row.updated_at)


class VoiceMapService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.maps = VoiceMapRepository(session)

    async def page(self, owner_id: str, page: Page) -> PageResult[VoiceMap]:
        return await self.maps.page(owner_id, page.limit, page.offset)

    async def get(self, owner_id: str, name: str) -> VoiceMapOut:
        return voice_map_out(await self._named(owner_id, name))

    async def put(self, owner_id: str, name: str, body: VoiceMapIn) -> tuple[VoiceMapOut, bool]:
        """Replace the map (creating it); every voice must be one this installation has. True
        when it was created."""
        for speaker, spoken in body.speakers.items():
            for language, voice in spoken.items():
                try:
                    await asyncio.to_thread(parse_voice, voice, language)
                except ValueError as exc:
                    raise ValidationFailed(f"speakers.{speaker}.{language}: {exc}", field="speakers") from exc
        row = await self.maps.named(owner_id, name)
        created = row is None
        now = utcnow()
        if row is None:
            row = VoiceMap(id=new_id("vmp"), owner_id=owner_id, name=name, created_at=now)
            self.maps.add(row)
        row.speakers = {speaker: dict(voices) for speaker, voices in body.speakers.items()}
        row.updated_at = now
        await self.session.commit()
        return voice_map_out(row), created

    async def delete(self, owner_id: str, name: str) -> None:
        await self.maps.delete(await self._named(owner_id, name))
        await self.session.commit()

    async def voices_for_dub(self, owner_id: str, dub: dict[str, Any]) -> None:
        """A run's dub parameters with its `voice_map` applied: the map's voices for the
        speaker, under those the run names itself. A map that is not there is refused."""
        name = dub.get("voice_map")
        if not name:
            return
        row = await self.maps.named(owner_id, str(name))
        if row is None:
            raise ValidationFailed(f"dub: no voice map {name!r}; see GET /v1/voices/maps", field="voice_map")
        given = dub.get("voices") or {}
        dub["voices"] = {**row.speakers.get(SPEAKER, {}), **(given if isinstance(given, dict) else {})}

    async def _named(self, owner_id: str, name: str) -> VoiceMap:
        row = await self.maps.named(owner_id, name)
        if row is None:
            raise NotFound(f"no voice map {name}")
        return row
