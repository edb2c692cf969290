"""clips component: valid mp4s of the highlight's length, reframed, captioned, with audio."""

from __future__ import annotations

from pathlib import Path

import av
import pysubs2

from kadr.pipeline.components.clips import caption_file
from tests.pipeline.components.conftest import Bench, make_bench
from tests.support.media import make_audio_only


def test_clips_match_their_highlights(talk: Bench) -> None:
    result = talk.run("clips", count=1, aspects=["9:16", "16:9"], preset="ultrafast")
    index = talk.json("clips/clips.json")
    assert len(index) == 2 and len(result.artifacts) == 3
    highlight = talk.json("highlights.json")["highlights"][0]
    for entry in index:
        with av.open(str(talk.fetch(entry["name"]))) as container:
            video = container.streams.video[0]
            assert (video.width, video.height) == (entry["width"], entry["height"])
            assert container.streams.audio
            assert container.duration is not None
            assert abs(container.duration / 1e6 - highlight["duration"]) <= 0.5
    progress = talk.progress["clips"]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_captions_are_clip_local_and_timed_from_words(tmp_path: Path) -> None:
    words = [
        {"start": 10.0, "end": 10.4, "word": " one"},
        {"start": 10.5, "end": 10.9, "word": " two"},
        {"start": 11.0, "end": 11.5, "word": " three"},
        {"start": 11.6, "end": 12.0, "word": " four"},
        {"start": 30.0, "end": 31.0, "word": " outside"},
    ]
    path = tmp_path / "c.ass"
    assert caption_file(words, 10.0, 20.0, (1080, 1920), path, words_per_caption=3) == 2
    subs = pysubs2.load(str(path))
    assert [e.text for e in subs] == ["one two three", "four"]
    assert subs[0].start == 0 and subs[1].start == 1600
    assert subs.info["PlayResY"] == "1920"


def test_audio_only_source_is_skipped(tmp_path: Path, talk: Bench) -> None:
    audio = make_audio_only(tmp_path / "talk.m4a", talk.source)
    bench = make_bench(audio, tmp_path / "w", "probe", "audio", "transcribe", "highlights")
    assert bench.run("clips").skipped_reason == "source has no video stream to cut clips from"
