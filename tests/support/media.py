"""Small media files made at test time with the bundled ffmpeg (deterministic, offline)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


def make_video(path: Path, seconds: float, *, audio: bool = True, size: str = "640x360") -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-shortest"] if audio else ["-an"]
    ffmpeg(*args, str(path))
    return path


def make_audio_only(path: Path, source_with_speech: Path) -> Path:
    ffmpeg("-i", str(source_with_speech), "-vn", "-c:a", "aac", "-b:a", "64k", str(path))
    return path


def make_silent_copy(path: Path, source: Path) -> Path:
    ffmpeg("-i", str(source), "-an", "-c:v", "copy", str(path))
    return path


def make_rotated_phone_video(path: Path, source: Path, degrees: int = 90) -> Path:
    """Landscape frames with a display matrix that says: show me rotated (as phones record)."""
    ffmpeg("-display_rotation", str(degrees), "-i", str(source), "-c", "copy", str(path))
    return path


def truncate(path: Path, source: Path, fraction: float) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
