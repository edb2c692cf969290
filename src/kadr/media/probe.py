"""Probe media with PyAV (the bundled ffmpeg has no ffprobe).

Validation is by content: the container must open, and the first video and audio
frames must decode, both at the start and near the end (a truncated upload fails
there). Phone videos are described in their display orientation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from kadr.core.errors import InvalidMedia

#: Seconds before the end where a second decode checks the file is complete.
TAIL_CHECK_SECONDS = 1.0


@dataclass
class MediaInfo:
    format_name: str
    duration: float
    size_bytes: int
    bit_rate: int | None
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    display_width: int | None = None
    display_height: int | None = None
    fps: float | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def is_portrait(self) -> bool:
        return bool(self.display_width and self.display_height and self.display_height > self.display_width)


def _first_frame(container: av.container.InputContainer, stream: Any) -> Any:
    for packet in container.demux(stream):
        for frame in packet.decode():
            return frame
    return None


def _decodes_near(path: Path, stream_kind: str, seconds: float) -> bool:
    """Seek close to `seconds` and decode one frame of the first stream of that kind."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if stream_kind == "video" else container.streams.audio[0]
        if stream.time_base is None:
            return True
        try:
            container.seek(
                int(max(0.0, seconds) / stream.time_base), stream=stream, backward=True, any_frame=False
            )
        except av.error.FFmpegError:
            return False
        return _first_frame(container, stream) is not None


def probe_media(path: Path) -> MediaInfo:
    """Describe a media file, or raise InvalidMedia with a reason a person can act on."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise InvalidMedia("the file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except av.error.InvalidDataError:
        raise InvalidMedia("this is not a video or audio file that ffmpeg can read") from None
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"the file cannot be opened as media: {exc.strerror or exc}") from None
    with container:
        videos = [s for s in container.streams.video if s.codec_context is not None]
        audios = [s for s in container.streams.audio if s.codec_context is not None]
        # Cover art (an attached picture) is a "video" stream of one frame: not a video.
        videos = [s for s in videos if not (s.disposition & av.stream.Disposition.attached_pic)]
        if not videos and not audios:
            raise InvalidMedia("the file has no video or audio stream")
        duration = _duration(container, videos + audios)
        if duration <= 0:
            raise InvalidMedia("the file has no playable duration (it may be truncated)")
        info = MediaInfo(
            format_name=container.format.name,
            duration=round(duration, 3),
            size_bytes=size,
            bit_rate=container.bit_rate or None,
            has_video=bool(videos),
            has_audio=bool(audios),
        )
        if videos:
            _describe_video(container, videos[0], info)
        if audios:
            _describe_audio(container, audios[0], info)
    for kind in ("video",) if info.has_video else ("audio",):
        if info.duration > 2 * TAIL_CHECK_SECONDS and not _decodes_near(
            path, kind, info.duration - TAIL_CHECK_SECONDS
        ):
            raise InvalidMedia("the end of the file cannot be decoded: the upload looks truncated")
    return info


def _duration(container: Any, streams: list[Any]) -> float:
    if container.duration:
        return float(container.duration / av.time_base)
    best = 0.0
    for stream in streams:
        if stream.duration and stream.time_base:
            best = max(best, float(stream.duration * stream.time_base))
    return best


def _describe_video(container: Any, stream: Any, info: MediaInfo) -> None:
    try:
        container.seek(0)
        frame = _first_frame(container, stream)
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"the video stream cannot be decoded: {exc.strerror or exc}") from None
    if frame is None:
        raise InvalidMedia("no frame of the video stream can be decoded (the file may be truncated)")
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    info.video_codec = stream.codec_context.name
    info.width, info.height = frame.width, frame.height
    info.rotation = rotation
    swapped = rotation in (90, 270)
    info.display_width = frame.height if swapped else frame.width
    info.display_height = frame.width if swapped else frame.height
    rate: Fraction | None = stream.average_rate or stream.guessed_rate
    info.fps = round(float(rate), 3) if rate else None


def _describe_audio(container: Any, stream: Any, info: MediaInfo) -> None:
    try:
        container.seek(0)
        frame = _first_frame(container, stream)
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"the audio stream cannot be decoded: {exc.strerror or exc}") from None
    if frame is None:
        raise InvalidMedia("no frame of the audio stream can be decoded (the file may be truncated)")
    info.audio_codec = stream.codec_context.name
    info.sample_rate = frame.sample_rate
    info.channels = stream.codec_context.channels
