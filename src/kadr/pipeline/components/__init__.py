"""Pipeline components, one file each, and the registry the orchestrator runs from."""

from kadr.pipeline.base import Component
from kadr.pipeline.components.audio import Audio
from kadr.pipeline.components.clips import Clips
from kadr.pipeline.components.dub import Dub
from kadr.pipeline.components.highlights import Highlights
from kadr.pipeline.components.metadata import Metadata
from kadr.pipeline.components.probe import Probe
from kadr.pipeline.components.subtitles import Subtitles
from kadr.pipeline.components.thumbnails import Thumbnails
from kadr.pipeline.components.transcribe import Transcribe
from kadr.pipeline.components.translate import Translate

#: In a sensible execution order; plans are ordered by dependencies, then by this order
#: (so metadata, which needs only highlights, still runs after clips and can name their files).
COMPONENTS: dict[str, type[Component]] = {
    component.name: component
    for component in (
        Probe,
        Audio,
        Transcribe,
        Highlights,
        Clips,
        Metadata,
        Subtitles,
        Translate,
        Dub,
        Thumbnails,
    )
}

__all__ = ["COMPONENTS"]
