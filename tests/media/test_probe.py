"""Probing validates by content and reports display geometry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kadr.core.errors import InvalidMedia
from kadr.media.probe import probe_media
from tests.support.media import (
    make_audio_only,
    make_rotated_phone_video,
    make_silent_copy,
    make_video,
    truncate,
)


def test_the_sample_talk(sample_video: Path) -> None:
    info = probe_media(sample_video)
    assert info.has_video and info.has_audio
    assert (info.display_width, info.display_height) == (1280, 720)
    assert 50 < info.duration < 65
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.size_bytes == sample_video.stat().st_size


@pytest.mark.parametrize("degrees", [90, 270])
def test_phone_video_reports_its_display_orientation(tmp_path: Path, degrees: int) -> None:
    landscape = make_video(tmp_path / "l.mp4", 2, size="640x360")
    info = probe_media(make_rotated_phone_video(tmp_path / "p.mp4", landscape, degrees))
    assert (info.width, info.height) == (640, 360), "stored frames are landscape"
    assert (info.display_width, info.display_height) == (360, 640)
    assert info.rotation in (90, 270) and info.is_portrait


def test_audio_only_and_silent_video_and_one_second(tmp_path: Path, sample_video: Path) -> None:
    audio = probe_media(make_audio_only(tmp_path / "a.m4a", sample_video))
    assert audio.has_audio and not audio.has_video and audio.display_width is None
    mute = probe_media(make_silent_copy(tmp_path / "m.mp4", sample_video))
    assert mute.has_video and not mute.has_audio
    short = probe_media(make_video(tmp_path / "s.mp4", 1))
    assert 0.9 <= short.duration <= 1.2


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d, s: _write(d / "empty.mp4", b""), "empty"),
        (lambda d, s: _write(d / "notes.mp4", b"meeting notes\n" * 100), "not a video or audio file"),
        (lambda d, s: _write(d / "noise.mp4", os.urandom(200_000)), "not a video or audio file"),
        (lambda d, s: truncate(d / "cut.mp4", s, 0.5), "truncated"),
    ],
)
def test_what_is_not_media_is_refused_with_a_reason(tmp_path: Path, sample_video: Path, make, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidMedia, match=reason):
        probe_media(make(tmp_path, sample_video))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
