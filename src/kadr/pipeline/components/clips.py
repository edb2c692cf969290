"""clips: the best highlights as mp4, reframed to 9:16 and/or 16:9, captions burned in.

Each highlight is cut with input seeking (`-ss` before `-i`), so the work scales with the
length of the clips, never the source, and is decoded once: one ffmpeg `split`s it into
every aspect asked for, each with its own encoder. Captions come from the transcript's
word timings, written to a clip-local ASS file per aspect that starts at zero.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pysubs2

from kadr.assets import CAPTION_FONT, FONTS_DIR
from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.core.hashing import sha256_file
from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact
from kadr.pipeline.components.dub import TRACK_LANGUAGES
from kadr.pipeline.components.transcribe import spread_words

ASPECTS = {"9:16": (1080, 1920), "16:9": (1920, 1080)}
RESOLUTIONS = ("1080p", "source")
AUDIO_SOURCES = ("original", "dub")


def caption_file(
    words: list[dict[str, Any]],
    start: float,
    end: float,
    size: tuple[int, int],
    path: Path,
    words_per_caption: int,
) -> int:
    """Write an ASS file of the words spoken in [start, end), shifted to start at zero."""
    width, height = size
    portrait = height > width
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(width)
    subs.info["PlayResY"] = str(height)
    subs.info["WrapStyle"] = "0"
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=CAPTION_FONT,
        fontsize=84 if portrait else 68,
        bold=True,
        primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        outline=5 if portrait else 4,
        shadow=0,
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=80,
        marginr=80,
        marginv=int(height * (0.25 if portrait else 0.08)),
    )
    inside = [w for w in words if start <= w["start"] < end]
    groups = [inside[i : i + words_per_caption] for i in range(0, len(inside), words_per_caption)]
    for index, group in enumerate(groups):
        begin = max(0.0, group[0]["start"] - start)
        finish = min(end, group[-1]["end"]) - start
        if index + 1 < len(groups):
            gap = groups[index + 1][0]["start"] - start - finish
            finish += gap if 0 < gap < 0.4 else 0.0  # no flicker between close captions
        text = " ".join(w["word"].strip() for w in group)
        subs.append(
            pysubs2.SSAEvent(start=int(begin * 1000), end=int(max(finish, begin + 0.2) * 1000), text=text)
        )
    subs.save(str(path), format_="ass")
    return len(subs)


def _filter_path(path: Path) -> str:
    """Quote a path for an ffmpeg filter argument."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def output_size(aspect: str, resolution: str, source: tuple[int, int] | None) -> tuple[int, int]:
    """The frame size of a clip: the aspect's full size, or with `resolution: source` the largest
    size of that aspect no bigger than the source in either dimension (even, as yuv420p needs)."""
    width, height = ASPECTS[aspect]
    if resolution != "source" or not source or not all(source):
        return width, height
    scale = min(1.0, source[0] / width, source[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def geometry_filter(aspect: str, size: tuple[int, int]) -> str:
    width, height = size
    if ASPECTS[aspect][1] > ASPECTS[aspect][0]:
        # Reframe: fill the frame and keep the centre.
        return f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1"
    return (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    )


def encoder_threads(outputs: int) -> int:
    """libx264 threads per output when one ffmpeg encodes `outputs` clips at once: the cores
    shared out, so that two encoders on a small machine do not each start 1.5 threads per core."""
    return max(1, (os.cpu_count() or 1) // max(1, outputs))


def render_args(
    source: Path,
    start: float,
    end: float,
    outputs: list[tuple[Path, str]],
    *,
    preset: str,
    crf: int,
    threads: int,
    audio_bitrate: str | None,
    audio: Path | None = None,
    audio_language: str | None = None,
) -> list[str]:
    """One ffmpeg that decodes [start, end) once and encodes every (path, video filter) output,
    with the source's sound or `audio` (a dub of the whole source) over the same span.

    `-ss`/`-t` on the input: the source is read only for the clip's span (input seeking).
    """
    if len(outputs) == 1:
        graph = f"[0:v:0]{outputs[0][1]}[v0]"
    else:
        labels = "".join(f"[s{i}]" for i in range(len(outputs)))
        graph = ";".join(
            [f"[0:v:0]split={len(outputs)}{labels}"]
            + [f"[s{i}]{video_filter}[v{i}]" for i, (_, video_filter) in enumerate(outputs)]
        )
    span = ["-ss", f"{start:.3f}", "-t", f"{end - start:.3f}"]
    args = ["-y", *span, "-i", str(source)]
    if audio is not None:
        args += [*span, "-i", str(audio)]
    args += ["-filter_complex", graph]
    for i, (path, _) in enumerate(outputs):
        args += ["-map", f"[v{i}]", "-c:v", "libx264", "-preset", preset, "-crf", str(crf)]
        args += ["-pix_fmt", "yuv420p", "-threads", str(threads)]
        if audio_bitrate is not None:
            args += ["-map", "1:a:0" if audio is not None else "0:a:0"]
            args += ["-c:a", "aac", "-b:a", audio_bitrate, "-ac", "2"]
            if audio_language:
                args += ["-metadata:s:a:0", f"language={TRACK_LANGUAGES.get(audio_language, 'und')}"]
        args += ["-movflags", "+faststart", str(path)]
    return args


def render_key(
    start: float,
    end: float,
    geometry: str,
    captions: str,
    params: dict[str, Any],
    sound: str | None,
) -> str:
    """sha256 of everything one clip (and its ASS captions) is made from (the source aside, which a
    revision shares): equal keys, equal clips, so a revision keeps the clips its edits did not touch.
    `sound`: the audio bitrate, and the dub's digest where the clip speaks a dub."""
    document = {
        "version": Clips.version,
        "span": [round(start, 3), round(end, 3)],
        "geometry": geometry,
        "captions": captions,
        "encoder": [params["preset"], int(params["crf"]), sound],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _clip_progress(
    ctx: ComponentContext, done_before: float, span: float, total: float, name: str
) -> Callable[[float], None]:
    """Map one clip's encode progress onto the whole component's."""

    def report(fraction: float) -> None:
        ctx.progress((done_before + fraction * span) / total, f"encoding {name}")

    return report


class Clips(Component):
    name = "clips"
    #: 3: captions and sound in a translated language; clips.json names each clip's render_key
    #: (revisions keep unchanged clips)
    version = "3"
    requires = ("highlights", "transcribe", "probe")
    defaults: ClassVar[dict[str, Any]] = {
        "count": 3,
        "aspects": ["9:16", "16:9"],
        "captions": True,
        "words_per_caption": 3,
        "preset": "veryfast",
        "crf": 23,
        "audio_bitrate": "128k",
        #: "1080p": 1080x1920 / 1920x1080; "source": no upscaling, at most the source's size.
        "resolution": "1080p",
        #: libx264 threads per output; 0 shares the machine's cores among the outputs.
        "threads": 0,
        #: Captions in this translated language (translate's `languages`); None: as spoken.
        "language": None,
        #: "original" (the source's sound) or "dub" (the `language`'s dub track).
        "audio": "original",
    }
    weight = 5.0

    @classmethod
    def requirements(cls, overrides: Mapping[str, Any]) -> tuple[str, ...]:
        extra = ("translate",) if overrides.get("language") else ()
        return cls.requires + extra + (("dub",) if overrides.get("audio") == "dub" else ())

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if params["resolution"] not in RESOLUTIONS:
            raise ValueError(f"clips: resolution must be one of {', '.join(RESOLUTIONS)}")
        if params["audio"] not in AUDIO_SOURCES:
            raise ValueError(f"clips: audio must be one of {', '.join(AUDIO_SOURCES)}")
        if params["audio"] == "dub" and not params["language"]:
            raise ValueError('clips: audio "dub" needs the dub\'s language, e.g. "language": "ru"')
        return params

    @classmethod
    def complete_params(cls, params: dict[str, Any], plan: dict[str, dict[str, Any]]) -> dict[str, Any]:
        language = params["language"]
        if language:
            translated = plan["translate"]["languages"]
            if language not in translated:
                raise ValueError(
                    f"clips: language {language} is not translated in this run; translate has "
                    f"{', '.join(translated)} (add it to translate's languages)"
                )
        if params["audio"] == "dub" and language not in plan["dub"]["languages"]:
            dubbed = ", ".join(plan["dub"]["languages"])
            raise ValueError(f"clips: there is no {language} dub in this run; dub has {dubbed}")
        return params

    def run(self, ctx: ComponentContext) -> ComponentResult:
        info = MediaInfo.from_dict(ctx.read_json("probe.json"))
        if not info.has_video:
            return ComponentResult(skipped_reason="source has no video stream to cut clips from")
        params = ctx.params
        aspects = list(dict.fromkeys(params["aspects"]))
        unknown = [a for a in aspects if a not in ASPECTS]
        if unknown or not aspects:
            raise PermanentJobError(
                f"clips: aspects must be among {', '.join(ASPECTS)}; got {params['aspects']}"
            )
        highlights = ctx.read_json("highlights.json")["highlights"][: int(params["count"])]
        if not highlights:
            return ComponentResult(skipped_reason="there are no highlights to cut")
        language = params["language"]
        if language:  # a translation has no word timings: its words share each cue's time
            cues = ctx.read_json(f"translations/{language}/cues.json")["cues"]
            words = [w for cue in cues for w in spread_words(cue["text"], cue["start"], cue["end"])]
        else:
            words = [w for s in ctx.read_json("transcript.json")["segments"] for w in s.get("words", [])]
        dubbed = ctx.input(f"dub/{language}.wav") if params["audio"] == "dub" else None
        source_size = (info.display_width or info.width or 0, info.display_height or info.height or 0)
        sizes = {a: output_size(a, str(params["resolution"]), source_size) for a in aspects}
        threads = int(params["threads"]) or encoder_threads(len(aspects))
        audio_bitrate = str(params["audio_bitrate"]) if info.has_audio or dubbed else None
        # The sound in the render key: a dub spoken again (a reviewed translation) is another clip.
        sound = f"{audio_bitrate}:{sha256_file(dubbed)}" if dubbed else audio_bitrate
        # In a revision, a clip whose inputs are unchanged is kept: same file, no encode.
        rendered_before = {
            entry["name"]: entry.get("render_key") for entry in ctx.previous_json("clips/clips.json") or []
        }
        total = sum(h["end"] - h["start"] for h in highlights) or 1.0
        done = encoded = 0.0
        artifacts: list[ProducedArtifact] = []
        kept: list[str] = []
        index: list[dict[str, Any]] = []
        for highlight in highlights:
            start, end = float(highlight["start"]), float(highlight["end"])
            outputs: list[tuple[Path, str]] = []
            for aspect in aspects:
                name = f"clips/clip_{highlight['rank']:02d}_{aspect.replace(':', 'x')}.mp4"
                geometry = geometry_filter(aspect, sizes[aspect])
                burn, captions = "", ""
                ass = name.removesuffix(".mp4") + ".ass"
                if params["captions"] and words:
                    burn, captions = self._captions(ctx, words, start, end, sizes[aspect], ass)
                key = render_key(start, end, geometry, captions, params, sound)
                produced = [name, ass] if captions else [name]
                if rendered_before.get(name) == key:
                    kept += produced
                else:
                    outputs.append((ctx.output(name), geometry + burn))
                    artifacts.append(ProducedArtifact(name, outputs[-1][0], "video", "video/mp4"))
                    if captions:
                        artifacts.append(ProducedArtifact(ass, ctx.output(ass), "subtitles", "text/x-ssa"))
                index.append(
                    {
                        "rank": highlight["rank"],
                        "aspect": aspect,
                        "name": name,
                        "start": start,
                        "end": end,
                        "duration": round(end - start, 3),
                        "width": sizes[aspect][0],
                        "height": sizes[aspect][1],
                        "title": highlight["title"],
                        "language": language,
                        "audio": params["audio"],
                        "captions": ass if captions else None,
                        "render_key": key,
                    }
                )
            if outputs:
                ctx.run_ffmpeg(
                    render_args(
                        ctx.source,
                        start,
                        end,
                        outputs,
                        preset=str(params["preset"]),
                        crf=int(params["crf"]),
                        threads=threads,
                        audio_bitrate=audio_bitrate,
                        audio=dubbed,
                        audio_language=language if dubbed else None,
                    ),
                    duration_seconds=end - start,
                    on_progress=_clip_progress(ctx, done, end - start, total, f"clip {highlight['rank']}"),
                )
                encoded += (end - start) * len(outputs)
            done += end - start
        listing = ctx.output("clips/clips.json")
        listing.write_text(json.dumps(index, indent=1, ensure_ascii=False))
        artifacts.append(ProducedArtifact("clips/clips.json", listing, "json", "application/json"))
        ctx.progress(1.0)
        summary: dict[str, Any] = {
            "clips": len(index),
            "seconds_encoded": round(encoded, 2),
            "encoder_threads": threads,
        }
        if kept:
            summary["clips_kept"] = len(kept)
        return ComponentResult(artifacts, summary, kept=kept)

    @staticmethod
    def _captions(
        ctx: ComponentContext,
        words: list[dict[str, Any]],
        start: float,
        end: float,
        size: tuple[int, int],
        name: str,
    ) -> tuple[str, str]:
        """Write the clip-local ASS file `name` (an output, kept with the clip); the `subtitles`
        filter that burns it and the file's text (both "" when nothing is said in the clip)."""
        ass = ctx.output(name)
        if not caption_file(words, start, end, size, ass, int(ctx.params["words_per_caption"])):
            return "", ""
        return (
            f",subtitles={_filter_path(ass)}:fontsdir={_filter_path(FONTS_DIR)}",
            ass.read_text(encoding="utf-8"),
        )
