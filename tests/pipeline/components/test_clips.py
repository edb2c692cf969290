"""clips component: valid mp4s of the highlight's length, reframed, captioned, with audio."""

from __future__ import annotations

import shlex
from pathlib import Path

import av
import pysubs2
import pytest

from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.media.ffmpeg import ffmpeg_executable
from kadr.pipeline.components.clips import caption_file, output_size
from kadr.runs.profiles import resolve_plan
from tests.pipeline.components.conftest import Bench, make_bench
from tests.support.media import make_audio_only


def counting_ffmpeg(folder: Path) -> tuple[Path, Path]:
    """The real ffmpeg behind a script that writes one line per run: (the script, its log)."""
    log = folder / "ffmpeg-runs.log"
    script = folder / "ffmpeg"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {shlex.quote(ffmpeg_executable())} "$@"\n'
    )
    script.chmod(0o755)
    return script, log


def frame_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return video.width, video.height


def test_clips_match_their_highlights_one_ffmpeg_run_for_both_aspects(talk: Bench, tmp_path: Path) -> None:
    ffmpeg, runs = counting_ffmpeg(tmp_path)
    settings = Settings(data_dir=tmp_path / "var", ffmpeg_binary=str(ffmpeg))
    bench = Bench(talk.source, tmp_path / "work", settings, dict(talk.results))
    result = bench.run("clips", count=1, aspects=["9:16", "16:9"], preset="ultrafast")
    assert len(runs.read_text().splitlines()) == 1, "the highlight is decoded once for both aspects"
    index = bench.json("clips/clips.json")
    assert len(index) == 2
    # Each clip with its ASS captions, and the listing.
    assert sorted(a.name for a in result.artifacts) == sorted(
        [*(e["name"] for e in index), *(e["captions"] for e in index), "clips/clips.json"]
    )
    assert {e["aspect"]: frame_size(bench.fetch(e["name"])) for e in index} == {
        "9:16": (1080, 1920),
        "16:9": (1920, 1080),
    }
    highlight = bench.json("highlights.json")["highlights"][0]
    for entry in index:
        with av.open(str(bench.fetch(entry["name"]))) as container:
            video = container.streams.video[0]
            assert (video.width, video.height) == (entry["width"], entry["height"])
            assert container.streams.audio
            assert container.duration is not None
            assert abs(container.duration / 1e6 - highlight["duration"]) <= 0.5
    progress = bench.progress["clips"]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_resolution_source_never_upscales(talk: Bench) -> None:
    source = frame_size(talk.source)
    assert source == (1280, 720), "the sample is smaller than 1080p in both shapes"
    talk.run("clips", count=1, aspects=["9:16", "16:9"], preset="ultrafast", resolution="source")
    sizes = {e["aspect"]: frame_size(talk.fetch(e["name"])) for e in talk.json("clips/clips.json")}
    assert sizes == {"9:16": (404, 720), "16:9": (1280, 720)}
    for aspect, (width, height) in sizes.items():
        assert width <= source[0] and height <= source[1], f"{aspect} was upscaled"
        assert width % 2 == 0 and height % 2 == 0, "yuv420p needs even dimensions"


def test_an_unknown_resolution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="resolution must be one of 1080p, source"):
        resolve_plan(Settings(data_dir=tmp_path), {"clips": {"resolution": "4k"}})
    assert (
        resolve_plan(Settings(data_dir=tmp_path), {"clips": {"resolution": "source"}})["clips"]["resolution"]
        == "source"
    )


@pytest.mark.parametrize(
    ("aspect", "resolution", "source", "expected"),
    [
        ("9:16", "1080p", (640, 360), (1080, 1920)),  # the default size whatever the source
        ("16:9", "1080p", None, (1920, 1080)),
        ("16:9", "source", (3840, 2160), (1920, 1080)),  # never above the aspect's full size
        ("16:9", "source", (1280, 720), (1280, 720)),
        ("9:16", "source", (1280, 720), (404, 720)),  # 405 rounded down to even
        ("9:16", "source", (720, 1280), (720, 1280)),  # a phone's portrait video
        ("16:9", "source", (720, 1280), (720, 404)),
        ("16:9", "source", (641, 361), (640, 360)),
        ("9:16", "source", (0, 0), (1080, 1920)),  # size unknown: the full size
        ("9:16", "source", (2, 2), (2, 2)),  # never below 2x2
    ],
)
def test_output_size(
    aspect: str, resolution: str, source: tuple[int, int] | None, expected: tuple[int, int]
) -> None:
    assert output_size(aspect, resolution, source) == expected


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
