"""subtitles: SRT and VTT with readable cues (≤ 42 characters a line, 2 lines, 7 seconds)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pysubs2

from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact


def cues_from(
    transcript: dict[str, Any], max_line: int, max_lines: int, max_seconds: float
) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    for segment in transcript.get("segments", []):
        words = segment.get("words") or [
            {"start": segment["start"], "end": segment["end"], "word": " " + segment["text"]}
        ]
        current: list[dict[str, Any]] = []

        def flush(pending: list[dict[str, Any]]) -> None:
            if pending:
                cues.append((pending[0]["start"], pending[-1]["end"], _wrap(pending, max_line)))
                pending.clear()

        for word in words:
            candidate = [*current, word]
            too_long = _wrap(candidate, max_line).count("\\N") + 1 > max_lines
            too_slow = candidate[-1]["end"] - candidate[0]["start"] > max_seconds
            if current and (too_long or too_slow):
                flush(current)
            current.append(word)
            if (
                word["word"].strip().endswith((".", "!", "?"))
                and len("".join(w["word"] for w in current)) > max_line
            ):
                flush(current)
        flush(current)
    return cues


def _wrap(words: list[dict[str, Any]], max_line: int) -> str:
    return wrap_text(" ".join(w["word"].strip() for w in words), max_line)


def wrap_text(text: str, max_line: int) -> str:
    """`text` in lines of at most `max_line` characters (a longer word keeps a line to itself),
    joined by `\\N`, the line break of pysubs2 (and of SRT/VTT once saved)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > max_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\\N".join(lines)


def write_subtitles(cues: Iterable[tuple[float, float, str]], srt: Path, vtt: Path) -> None:
    """The cues (start and end in seconds, lines joined by `\\N`) as SRT and VTT; a cue is
    shown for at least 0.3 s."""
    subs = pysubs2.SSAFile()
    for start, end, text in cues:
        subs.append(
            pysubs2.SSAEvent(start=int(start * 1000), end=int(max(end, start + 0.3) * 1000), text=text)
        )
    subs.save(str(srt), format_="srt")
    subs.save(str(vtt), format_="vtt")


class Subtitles(Component):
    name = "subtitles"
    version = "1"
    requires = ("transcribe",)
    defaults: ClassVar[dict[str, Any]] = {"max_line_chars": 42, "max_lines": 2, "max_cue_seconds": 7.0}
    weight = 0.1

    def run(self, ctx: ComponentContext) -> ComponentResult:
        transcript = ctx.read_json("transcript.json")
        params = ctx.params
        cues = cues_from(
            transcript,
            int(params["max_line_chars"]),
            int(params["max_lines"]),
            float(params["max_cue_seconds"]),
        )
        if not cues:
            return ComponentResult(skipped_reason="the transcript is empty: no speech was recognised")
        srt = ctx.output("subtitles/subtitles.srt")
        vtt = ctx.output("subtitles/subtitles.vtt")
        write_subtitles(cues, srt, vtt)
        ctx.progress(1.0)
        return ComponentResult(
            [
                ProducedArtifact("subtitles/subtitles.srt", srt, "subtitles", "application/x-subrip"),
                ProducedArtifact("subtitles/subtitles.vtt", vtt, "subtitles", "text/vtt"),
            ],
            {"cues": len(cues)},
        )
