"""probe: container and stream facts; refuses what is not playable media."""

from __future__ import annotations

import json

from kadr.core.errors import InvalidMedia, PermanentJobError
from kadr.media.probe import probe_media
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact


class Probe(Component):
    name = "probe"
    version = "1"
    weight = 0.2

    def run(self, ctx: ComponentContext) -> ComponentResult:
        try:
            info = probe_media(ctx.source)
        except InvalidMedia as exc:
            raise PermanentJobError(exc.detail) from None
        out = ctx.output("probe.json")
        out.write_text(json.dumps(info.to_dict(), indent=2))
        ctx.progress(1.0)
        summary: dict[str, object] = {
            "duration": info.duration,
            "has_video": info.has_video,
            "has_audio": info.has_audio,
        }
        if info.has_video:
            summary["display"] = f"{info.display_width}x{info.display_height}"
        return ComponentResult([ProducedArtifact("probe.json", out, "json", "application/json")], summary)
