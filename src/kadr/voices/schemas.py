"""Voices and voice maps over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from kadr.core.schemas import Schema

#: What the dub speaks every cue with today: transcripts have one speaker (no diarization
#: model ships in a registry), so a map's voices for this speaker are the ones used.
SPEAKER = "S1"
Speaker = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
VoiceId = Annotated[str, StringConstraints(min_length=3, max_length=120)]


class VoiceOut(Schema):
    id: str = Field(description="What `dub.voices` takes: `engine:name`")
    engine: str = Field(description="piper, festival or espeak (espeak: the robotic fallback)")
    language: str
    default: bool = Field(description="The voice dub uses for this language when none is named")


class LanguagesOut(Schema):
    transcribe: list[str] = Field(description="What `transcribe` hears (`language`, or `auto`)")
    translate: dict[str, list[str]] = Field(description="Per engine, what `translate` translates into")
    apertium_pairs: list[str] = Field(description="The Apertium pairs installed, `en-es`")
    speech: dict[str, list[str]] = Field(
        description="Per language, the voices dub speaks it with, best first"
    )


class VoiceMapIn(Schema):
    speakers: dict[Speaker, dict[LanguageCode, VoiceId]] = Field(
        min_length=1,
        max_length=20,
        description="Per speaker, a voice per language, e.g. "
        f'{{"{SPEAKER}": {{"ru": "festival:msu_ru_nsh_clunits"}}}}; '
        f"transcripts have one speaker today, `{SPEAKER}`",
    )


class VoiceMapOut(VoiceMapIn):
    name: str
    updated_at: datetime
