"""Decoded pictures as numpy arrays: ffmpeg decodes (or encodes), Python looks at the pixels.

The components that analyse the picture (scene-aware reframing, overlay detection, cleaning)
read frames through `read_frames` and write them back through `FrameWriter`: one ffmpeg
process each way, raw BGR frames on a pipe, spawned with the same process group, death signal
and niceness as every other ffmpeg of kadr (`media.ffmpeg.child_setup`), and stopped on
cancellation.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np
from numpy.typing import NDArray

from kadr.core.errors import Cancelled
from kadr.media.ffmpeg import FFmpegError, child_setup, ffmpeg_executable, kill_group

#: One decoded picture, height x width x 3, BGR (OpenCV's order), uint8.
Frame = NDArray[np.uint8]


@dataclass(frozen=True)
class TimedFrame:
    """A frame and the time it is shown at, in seconds from the start of the source."""

    seconds: float
    image: Frame


def _spawn(
    command: list[str], *, stdin: int | None, stdout: int | None, niceness: int, stderr: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=child_setup(niceness),
    )


def read_frames(
    source: Path,
    *,
    size: tuple[int, int],
    fps: float,
    start: float = 0.0,
    duration: float | None = None,
    executable: str = "",
    cancel_event: threading.Event | None = None,
    niceness: int = 0,
) -> Iterator[TimedFrame]:
    """Yield the frames of `source` at `fps` (the source's own rate for every frame) scaled to
    `size` = (width, height) (the probed size keeps them as they are), from `start` for
    `duration` seconds, each with the time it is shown at."""
    width, height = size
    filters = [f"fps={fps:g}", f"scale={width}:{height}:flags=area"]
    command = [ffmpeg_executable(executable), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if start > 0:
        command += ["-ss", f"{start:.3f}"]
    command += ["-i", str(source)]
    if duration is not None:
        command += ["-t", f"{duration:.3f}"]
    command += ["-an", "-sn", "-vf", ",".join(filters), "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    frame_bytes = width * height * 3
    with tempfile.TemporaryFile() as stderr:
        process = _spawn(command, stdin=None, stdout=subprocess.PIPE, niceness=niceness, stderr=stderr)
        assert process.stdout is not None
        index = 0
        try:
            while True:
                if cancel_event is not None and cancel_event.is_set():
                    raise Cancelled("cancelled")
                data = process.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                image = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
                yield TimedFrame(seconds=start + index / fps, image=image)
                index += 1
        finally:
            if process.poll() is None:
                kill_group(process)
            process.stdout.close()
            process.wait()
        if process.returncode not in (0, None):
            stderr.seek(0)
            raise FFmpegError(process.returncode, stderr.read().decode("utf-8", "replace"))


class FrameWriter:
    """Encode BGR frames written one by one into a video file (`with FrameWriter(...) as w:
    w.write(frame)`); `output_args` choose the encoder and may map other inputs' streams
    (`extra_inputs`), e.g. the original audio."""

    def __init__(
        self,
        destination: Path,
        *,
        size: tuple[int, int],
        fps: float,
        output_args: Sequence[str],
        extra_inputs: Sequence[str] = (),
        executable: str = "",
        cancel_event: threading.Event | None = None,
        niceness: int = 0,
    ) -> None:
        width, height = size
        self._frame_shape = (height, width, 3)
        self._cancel_event = cancel_event
        self._command = [
            ffmpeg_executable(executable),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
        ]
        self._command += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}"]
        self._command += ["-i", "pipe:0", *extra_inputs, *output_args, str(destination)]
        self._niceness = niceness
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FrameWriter:
        self._process = _spawn(
            self._command, stdin=subprocess.PIPE, stdout=None, niceness=self._niceness, stderr=self._stderr
        )
        return self

    def write(self, image: Frame) -> None:
        """Append one frame (height x width x 3 BGR uint8)."""
        assert self._process is not None and self._process.stdin is not None
        if self._cancel_event is not None and self._cancel_event.is_set():
            raise Cancelled("cancelled")
        if image.shape != self._frame_shape:
            raise ValueError(f"frame of shape {image.shape}, the writer takes {self._frame_shape}")
        try:
            self._process.stdin.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            self._raise_failure()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            if kind is not None:
                kill_group(process)
                return
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            process.wait()
            if process.returncode != 0:
                self._raise_failure()
        finally:
            if process.poll() is None:
                kill_group(process)
            self._stderr.close()

    def _raise_failure(self) -> None:
        assert self._process is not None
        if self._process.poll() is None:
            kill_group(self._process)
        self._stderr.seek(0)
        raise FFmpegError(self._process.returncode or 1, self._stderr.read().decode("utf-8", "replace"))
