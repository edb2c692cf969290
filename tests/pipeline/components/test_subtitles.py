"""subtitles component: SRT and VTT that parse, with readable cues."""

from __future__ import annotations

import pysubs2

from tests.pipeline.components.conftest import Bench


def test_srt_and_vtt_parse_with_readable_cues(talk: Bench) -> None:
    talk.run("subtitles")
    srt = pysubs2.load(str(talk.fetch("subtitles/subtitles.srt")))
    vtt = pysubs2.load(str(talk.fetch("subtitles/subtitles.vtt")))
    assert len(srt) == len(vtt) > 5
    for event in srt:
        lines = event.plaintext.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), lines
        assert 0 < event.end - event.start <= 7000 + 1000
    assert [e.start for e in srt] == sorted(e.start for e in srt)
    assert talk.fetch("subtitles/subtitles.vtt").read_text().startswith("WEBVTT")
