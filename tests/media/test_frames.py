"""Frames as arrays: decoded at a rate and size with their times, written back into a video,
refused files with ffmpeg's reason, cancellation that leaves no ffmpeg behind."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from kadr.core.errors import Cancelled
from kadr.media.ffmpeg import FFmpegError
from kadr.media.frames import FrameWriter, read_frames
from tests.media.test_ffmpeg import _ffmpeg_children

TALK = Path(__file__).parents[1] / "data" / "talk.mp4"


def test_frames_come_at_the_asked_rate_and_size_with_their_times() -> None:
    frames = list(read_frames(TALK, size=(96, 54), fps=4, start=1.0, duration=2.0))

    assert len(frames) == 8
    assert [round(frame.seconds, 2) for frame in frames[:3]] == [1.0, 1.25, 1.5]
    assert frames[0].image.shape == (54, 96, 3) and frames[0].image.dtype == np.uint8


def test_written_frames_read_back_as_the_same_picture(tmp_path: Path) -> None:
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    picture = np.stack([gradient, gradient[::-1], np.full_like(gradient, 128)], axis=2)
    destination = tmp_path / "written.mp4"

    with FrameWriter(
        destination,
        size=(64, 48),
        fps=10,
        output_args=["-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv444p"],
    ) as writer:
        for _ in range(10):
            writer.write(picture)

    frames = list(read_frames(destination, size=(64, 48), fps=10))
    assert len(frames) == 10
    assert np.abs(frames[5].image.astype(int) - picture.astype(int)).mean() < 3


def test_a_frame_of_the_wrong_size_is_refused_before_ffmpeg_sees_it(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="shape"),
        FrameWriter(tmp_path / "x.mp4", size=(64, 48), fps=10, output_args=["-c:v", "libx264"]) as writer,
    ):
        writer.write(np.zeros((10, 10, 3), dtype=np.uint8))
    assert not _ffmpeg_children()


def test_a_file_that_is_not_a_video_fails_with_ffmpegs_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)

    with pytest.raises(FFmpegError, match="Invalid data"):
        list(read_frames(broken, size=(64, 48), fps=1))


def test_cancelling_stops_reading_and_leaves_no_ffmpeg() -> None:
    cancel = threading.Event()
    frames = read_frames(TALK, size=(64, 36), fps=25, cancel_event=cancel)
    next(frames)
    cancel.set()

    with pytest.raises(Cancelled):
        list(frames)
    assert not _ffmpeg_children()
