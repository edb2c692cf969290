"""probe component: facts in probe.json; bad input is a permanent error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kadr.core.errors import PermanentJobError
from tests.pipeline.components.conftest import Bench, make_bench


def test_writes_the_media_facts(talk: Bench) -> None:
    probe = talk.json("probe.json")
    assert probe["has_video"] and probe["has_audio"] and probe["display_width"] == 1280
    assert talk.results["probe"].summary["display"] == "1280x720"


def test_not_media_is_a_permanent_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(PermanentJobError, match="not a video or audio file"):
        make_bench(notes, tmp_path / "w", "probe")
