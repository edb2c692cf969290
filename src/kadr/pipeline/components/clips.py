"""clips: the best highlights as mp4, reframed to 9:16 and/or 16:9, captions burned in.

Each clip is cut with input seeking (`-ss` before `-i`), so the work scales with the
length of the clips, never the source. Captions come from the transcript's word
timings, written to a clip-local ASS file that starts at zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pysubs2

from kadr.assets import CAPTION_FONT, FONTS_DIR
from kadr.core.errors import PermanentJobError
from kadr.media.ffmpeg import run_ffmpeg
from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact

ASPECTS = {"9:16": (1080, 1920), "16:9": (1920, 1080)}


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


def geometry_filter(aspect: str, size: tuple[int, int]) -> str:
    width, height = size
    if aspect == "9:16":
        # Reframe: fill the frame and keep the centre.
        return f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1"
    return (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    )


def _clip_progress(
    ctx: ComponentContext, done_before: float, span: float, total: float, name: str
) -> Callable[[float], None]:
    """Map one clip's encode progress onto the whole component's."""

    def report(fraction: float) -> None:
        ctx.progress((done_before + fraction * span) / total, f"encoding {name}")

    return report


class Clips(Component):
    name = "clips"
    version = "1"
    requires = ("highlights", "transcribe", "probe")
    defaults: ClassVar[dict[str, Any]] = {
        "count": 3,
        "aspects": ["9:16", "16:9"],
        "captions": True,
        "words_per_caption": 3,
        "preset": "veryfast",
        "crf": 23,
        "audio_bitrate": "128k",
    }
    weight = 5.0

    def run(self, ctx: ComponentContext) -> ComponentResult:
        info = MediaInfo.from_dict(ctx.read_json("probe.json"))
        if not info.has_video:
            return ComponentResult(skipped_reason="source has no video stream to cut clips from")
        params = ctx.params
        unknown = [a for a in params["aspects"] if a not in ASPECTS]
        if unknown or not params["aspects"]:
            raise PermanentJobError(
                f"clips: aspects must be among {', '.join(ASPECTS)}; got {params['aspects']}"
            )
        highlights = ctx.read_json("highlights.json")["highlights"][: int(params["count"])]
        if not highlights:
            return ComponentResult(skipped_reason="there are no highlights to cut")
        words = [w for s in ctx.read_json("transcript.json")["segments"] for w in s.get("words", [])]
        jobs = [(h, aspect) for h in highlights for aspect in params["aspects"]]
        total = sum(h["end"] - h["start"] for h, _ in jobs) or 1.0
        done = 0.0
        artifacts: list[ProducedArtifact] = []
        index: list[dict[str, Any]] = []
        for highlight, aspect in jobs:
            start, end = float(highlight["start"]), float(highlight["end"])
            size = ASPECTS[aspect]
            name = f"clips/clip_{highlight['rank']:02d}_{aspect.replace(':', 'x')}.mp4"
            out = ctx.output(name)
            video_filter = geometry_filter(aspect, size)
            if params["captions"] and words:
                ass = ctx.workdir / "captions" / f"{Path(name).stem}.ass"
                ass.parent.mkdir(parents=True, exist_ok=True)
                if caption_file(words, start, end, size, ass, int(params["words_per_caption"])):
                    video_filter += f",subtitles={_filter_path(ass)}:fontsdir={_filter_path(FONTS_DIR)}"
            args = [
                "-y",
                "-ss",
                f"{start:.3f}",
                "-i",
                str(ctx.source),
                "-t",
                f"{end - start:.3f}",
                "-map",
                "0:v:0",
                "-vf",
                video_filter,
                "-c:v",
                "libx264",
                "-preset",
                str(params["preset"]),
                "-crf",
                str(params["crf"]),
                "-pix_fmt",
                "yuv420p",
            ]
            if info.has_audio:
                args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(params["audio_bitrate"]), "-ac", "2"]
            args += ["-movflags", "+faststart", str(out)]
            run_ffmpeg(
                args,
                executable=ctx.settings.ffmpeg_binary,
                cancel_event=ctx.cancel_event,
                deadline=ctx.deadline,
                duration_seconds=end - start,
                on_progress=_clip_progress(ctx, done, end - start, total, name),
                threads=ctx.settings.ffmpeg_threads,
            )
            done += end - start
            artifacts.append(ProducedArtifact(name, out, "video", "video/mp4"))
            index.append(
                {
                    "rank": highlight["rank"],
                    "aspect": aspect,
                    "name": name,
                    "start": start,
                    "end": end,
                    "duration": round(end - start, 3),
                    "width": size[0],
                    "height": size[1],
                    "title": highlight["title"],
                }
            )
        listing = ctx.output("clips/clips.json")
        listing.write_text(json.dumps(index, indent=1, ensure_ascii=False))
        artifacts.append(ProducedArtifact("clips/clips.json", listing, "json", "application/json"))
        ctx.progress(1.0)
        return ComponentResult(artifacts, {"clips": len(index), "seconds_encoded": round(done, 2)})
