"""dub: each translated language spoken over the video, every cue fitted to its time slot.

A cue is spoken by the language's voice (`voices`, else the best one installed: Piper for
English, Festival for Russian, eSpeak NG for the rest, which the summary calls a fallback)
and fitted to its slot, in this order:

1. the text was already written for the slot: `translate` gives each cue a length budget;
2. tempo, up to `max_tempo` (1.2 times: faster speech becomes hard to listen to);
3. the silence after the cue, up to the next cue;
4. only then is it late: the next cue starts after it, and the overrun and drift are reported.

The voice is mixed over the original track, which is ducked while the voice speaks (a
sidechain compressor, so music and effects stay), and written as `dub/<lang>.mp4` (the video
copied, the dubbed audio the first and default track, the original the second) and
`dub/<lang>.wav`; `dub/<lang>_timing.json` has, per cue, the slot, the spoken length, the
tempo, the silence borrowed, the drift and any overrun. One speaker, one voice: kadr has no
diarization model (none ships in a registry), so every cue of a language has the same voice.
"""

from __future__ import annotations

import json
import wave
from typing import Any, ClassVar

import numpy as np

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.media.speech import SpeechError, Voice, default_voice, parse_voice, synthesize, voices
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact

#: Above this, speech sped up by tempo becomes hard to follow (pyVideoTrans, VideoLingo).
MAX_TEMPO = 1.2
RATE = 24_000
#: Later than this past its slot and the gap after it, a cue counts as late.
LATE_SECONDS = 0.05
#: ISO 639-2 codes for the tracks' `language` tags (players show them in the track menu).
TRACK_LANGUAGES = {"en": "eng", "ru": "rus", "es": "spa", "de": "deu", "fr": "fra", "uk": "ukr", "it": "ita"}


def fit_cues(
    cues: list[dict[str, Any]], lengths: list[float], duration: float, max_tempo: float
) -> list[dict[str, Any]]:
    """Where each spoken cue goes and how fast: tempo, then the silence after it, then late."""
    placed: list[dict[str, Any]] = []
    free_from = 0.0
    for index, (cue, length) in enumerate(zip(cues, lengths, strict=True)):
        start, end = float(cue["start"]), float(cue["end"])
        next_start = float(cues[index + 1]["start"]) if index + 1 < len(cues) else duration
        slot = max(0.05, end - start)
        tempo = min(max_tempo, max(1.0, length / slot))
        spoken = length / tempo
        at = max(start, free_from)
        borrowed = min(max(0.0, at + spoken - end), max(0.0, next_start - end))
        overrun = max(0.0, at + spoken - max(end, next_start))
        placed.append(
            {
                "n": cue["n"],
                "slot": [round(start, 3), round(end, 3)],
                "start": round(at, 3),
                "spoken_seconds": round(spoken, 3),
                "tempo": round(tempo, 3),
                "borrowed_seconds": round(borrowed, 3),
                "drift_seconds": round(at - start, 3),
                "overrun_seconds": round(overrun, 3),
                "text": cue["text"],
            }
        )
        free_from = at + spoken
    return placed


class Dub(Component):
    name = "dub"
    version = "1"
    requires = ("translate", "probe")
    defaults: ClassVar[dict[str, Any]] = {
        #: Languages to speak (of translate's); empty: all of them.
        "languages": [],
        #: A voice per language, `engine:name` (`GET /v1/voices`); unnamed: the best installed.
        "voices": {},
        #: A saved speaker→voice map (`/v1/voices/maps/{name}`): its voices under `voices`.
        "voice_map": None,
        "max_tempo": MAX_TEMPO,
        #: How far the original track is turned down under the voice (sidechain ratio).
        "duck_ratio": 8,
        "audio_bitrate": "128k",
    }
    weight = 2.0

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if not 1.0 <= float(params["max_tempo"]) <= MAX_TEMPO:
            raise ValueError(
                f"dub: max_tempo must be between 1.0 and {MAX_TEMPO} (faster speech is unlistenable)"
            )
        if not isinstance(params["voices"], dict):
            raise ValueError('dub: voices must look like {"ru": "festival:msu_ru_nsh_clunits"}')
        params["languages"] = [str(code).lower() for code in params["languages"]]
        return params

    @classmethod
    def complete_params(cls, params: dict[str, Any], plan: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The languages default to translate's, and each gets its voice now: a voice that
        changes (another installed) is another config_hash, and a language nothing here can
        speak is refused before the run starts."""
        translated = plan["translate"]["languages"]
        languages = params["languages"] or list(translated)
        outside = [code for code in languages if code not in translated]
        if outside:
            raise ValueError(
                f"dub: {', '.join(outside)} is not translated; "
                f"translate.languages has {', '.join(translated)}"
            )
        chosen: dict[str, str] = {}
        for language in languages:
            spec = params["voices"].get(language)
            voice = parse_voice(spec, language) if spec else default_voice(language)
            if voice is None:
                spoken = sorted({v.language for v in voices()})
                raise ValueError(
                    f"dub: no voice here speaks {language}; voices speak: {', '.join(spoken) or 'none'}"
                )
            chosen[language] = voice.id
        return {**params, "languages": languages, "voices": chosen}

    def run(self, ctx: ComponentContext) -> ComponentResult:
        probe = ctx.read_json("probe.json")
        duration = float(probe["duration"])
        has_video = bool(probe.get("has_video"))
        artifacts: list[ProducedArtifact] = []
        summary: dict[str, Any] = {"languages": {}, "fallbacks": []}
        languages: list[str] = ctx.params["languages"]
        for index, language in enumerate(languages):
            document = ctx.read_json(f"translations/{language}/cues.json")
            if document["source_language"] == language:
                summary["languages"][language] = {"skipped": f"the video is already in {language}"}
                continue
            voice = parse_voice(ctx.params["voices"][language], language)
            if voice.engine == "espeak":
                summary["fallbacks"].append(language)
            ctx.progress(index / len(languages), f"{language}: speaking {len(document['cues'])} subtitles")
            placed = self._speak(ctx, voice, document["cues"], duration, language)
            ctx.progress((index + 0.7) / len(languages), f"{language}: mixing")
            artifacts += self._mix(ctx, language, document["source_language"], has_video)
            timing = ctx.output(f"dub/{language}_timing.json")
            timing.write_text(
                json.dumps(
                    {"language": language, "voice": voice.id, "cues": placed}, indent=1, ensure_ascii=False
                )
            )
            artifacts.append(
                ProducedArtifact(f"dub/{language}_timing.json", timing, "json", "application/json")
            )
            summary["languages"][language] = {
                "voice": voice.id,
                "cues": len(placed),
                "max_drift_seconds": max((c["drift_seconds"] for c in placed), default=0.0),
                "max_tempo": max((c["tempo"] for c in placed), default=1.0),
                "cues_late": sum(c["overrun_seconds"] > LATE_SECONDS for c in placed),
            }
        ctx.progress(1.0)
        drifts = [v["max_drift_seconds"] for v in summary["languages"].values() if "max_drift_seconds" in v]
        summary["max_drift_seconds"] = max(drifts, default=0.0)
        return ComponentResult(artifacts, summary)

    def _speak(
        self, ctx: ComponentContext, voice: Voice, cues: list[dict[str, Any]], duration: float, language: str
    ) -> list[dict[str, Any]]:
        """The voice track (`dub/<lang>_voice.wav`, not kept) and where each cue went."""
        folder = ctx.workdir / "dub" / f".{language}"
        try:
            spoken = synthesize(voice, [cue["text"] for cue in cues], folder)
        except SpeechError as error:
            raise PermanentJobError(f"dub: {error}") from error
        lengths = []
        for path in spoken:
            with wave.open(str(path)) as reader:
                lengths.append(reader.getnframes() / reader.getframerate())
        placed = fit_cues(cues, lengths, duration, float(ctx.params["max_tempo"]))
        track = np.zeros(int((duration + 1) * RATE), dtype=np.float32)
        for cue, path in zip(placed, spoken, strict=True):
            ctx.check_cancelled()
            raw = path.with_suffix(".raw")
            ctx.run_ffmpeg(
                [
                    "-y",
                    "-i",
                    str(path),
                    "-af",
                    f"atempo={cue['tempo']},aresample={RATE}",
                    "-ac",
                    "1",
                    "-f",
                    "f32le",
                    str(raw),
                ]
            )
            samples = np.fromfile(raw, dtype=np.float32)
            at = int(cue["start"] * RATE)
            room = max(0, len(track) - at)
            track[at : at + min(room, len(samples))] += samples[:room]
        with wave.open(str(ctx.output(f"dub/.{language}/voice.wav")), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes((np.clip(track, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        return placed

    def _mix(
        self, ctx: ComponentContext, language: str, original: str, has_video: bool
    ) -> list[ProducedArtifact]:
        voice = ctx.workdir / "dub" / f".{language}" / "voice.wav"
        mp4, wav = ctx.output(f"dub/{language}.mp4"), ctx.output(f"dub/{language}.wav")
        graph = (
            "[0:a:0]aresample=48000,aformat=channel_layouts=stereo[original];"
            "[1:a]aresample=48000,aformat=channel_layouts=stereo,asplit=2[key][voice];"
            f"[original][key]sidechaincompress=threshold=0.02:ratio={ctx.params['duck_ratio']}:attack=20:release=400[ducked];"
            "[ducked][voice]amix=inputs=2:duration=first:normalize=0,asplit=2[mix][mixwav]"
        )
        tag = TRACK_LANGUAGES.get(language, "und")
        ctx.run_ffmpeg(
            [
                "-y",
                "-i",
                str(ctx.source),
                "-i",
                str(voice),
                "-filter_complex",
                graph,
                *(["-map", "0:v:0", "-c:v", "copy"] if has_video else []),
                "-map",
                "[mix]",
                "-map",
                "0:a:0",
                "-c:a",
                "aac",
                "-b:a",
                str(ctx.params["audio_bitrate"]),
                "-metadata:s:a:0",
                f"language={tag}",
                "-metadata:s:a:0",
                f"title=Dub ({language})",
                "-metadata:s:a:1",
                f"language={TRACK_LANGUAGES.get(original, 'und')}",
                "-metadata:s:a:1",
                "title=Original",
                "-disposition:a:0",
                "default",
                "-disposition:a:1",
                "0",
                "-movflags",
                "+faststart",
                str(mp4),
                "-map",
                "[mixwav]",
                "-c:a",
                "pcm_s16le",
                str(wav),
            ]
        )
        return [
            ProducedArtifact(f"dub/{language}.mp4", mp4, "video", "video/mp4"),
            ProducedArtifact(f"dub/{language}.wav", wav, "audio", "audio/wav"),
        ]
