"""thumbnails: poster frames, each the most representative frame of its stretch (no black frames)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact


def thumbnail_times(duration: float, count: int) -> list[float]:
    """The middle of each of `count` equal stretches of the source."""
    return [duration * (i + 0.5) / count for i in range(count)]


def thumbnail_args(source: Path, at: float, long_side: int, out: Path) -> list[str]:
    """ffmpeg arguments for one JPEG near `at`: `thumbnail` picks the frame closest to the average
    of the next 25 (representative, not black), scaled to at most `long_side`."""
    return [
        "-y",
        "-ss",
        f"{max(0.0, at - 0.5):.3f}",
        "-i",
        str(source),
        "-an",
        "-vf",
        f"thumbnail=25,scale={long_side}:{long_side}:force_original_aspect_ratio=decrease",
        "-frames:v",
        "1",
        "-q:v",
        "3",
        str(out),
    ]


class Thumbnails(Component):
    name = "thumbnails"
    version = "1"
    requires = ("probe",)
    defaults: ClassVar[dict[str, Any]] = {"count": 3, "long_side": 1280}
    weight = 0.3

    def run(self, ctx: ComponentContext) -> ComponentResult:
        info = MediaInfo.from_dict(ctx.read_json("probe.json"))
        if not info.has_video:
            return ComponentResult(skipped_reason="source has no video stream to take frames from")
        count = max(1, int(ctx.params["count"]))
        side = int(ctx.params["long_side"])
        artifacts: list[ProducedArtifact] = []
        for i, at in enumerate(thumbnail_times(info.duration, count)):
            out = ctx.output(f"thumbnails/thumb_{i + 1:02d}.jpg")
            ctx.run_ffmpeg(thumbnail_args(ctx.source, at, side, out))
            if out.exists() and out.stat().st_size > 0:
                artifacts.append(
                    ProducedArtifact(out.relative_to(ctx.workdir).as_posix(), out, "image", "image/jpeg")
                )
            ctx.progress((i + 1) / count)
        return ComponentResult(artifacts, {"thumbnails": len(artifacts)})
