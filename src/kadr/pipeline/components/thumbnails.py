"""thumbnails: poster frames, each the most representative frame of its stretch (no black frames)."""

from __future__ import annotations

from typing import Any, ClassVar

from kadr.media.ffmpeg import run_ffmpeg
from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact


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
        for i in range(count):
            at = info.duration * (i + 0.5) / count
            out = ctx.output(f"thumbnails/thumb_{i + 1:02d}.jpg")
            # `thumbnail` picks the frame closest to the average of the next 25: representative, not black.
            run_ffmpeg(
                [
                    "-y",
                    "-ss",
                    f"{max(0.0, at - 0.5):.3f}",
                    "-i",
                    str(ctx.source),
                    "-an",
                    "-vf",
                    f"thumbnail=25,scale={side}:{side}:force_original_aspect_ratio=decrease",
                    "-frames:v",
                    "1",
                    "-q:v",
                    "3",
                    str(out),
                ],
                executable=ctx.settings.ffmpeg_binary,
                cancel_event=ctx.cancel_event,
                deadline=ctx.deadline,
            )
            if out.exists() and out.stat().st_size > 0:
                artifacts.append(
                    ProducedArtifact(out.relative_to(ctx.workdir).as_posix(), out, "image", "image/jpeg")
                )
            ctx.progress((i + 1) / count)
        return ComponentResult(artifacts, {"thumbnails": len(artifacts)})
