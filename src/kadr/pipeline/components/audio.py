"""audio: 16 kHz mono WAV for speech recognition, and a loudness curve for highlights."""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact

SAMPLE_RATE = 16_000
#: Samples read at a time when scanning the WAV: memory stays flat whatever the source length.
CHUNK_SECONDS = 60.0
#: Energy is measured in frames of this length when looking for a quiet place to cut.
QUIET_FRAME_SECONDS = 0.05
#: A piece is cut in the middle of the quietest stretch this long.
QUIET_SPAN_SECONDS = 0.3


def _read(reader: wave.Wave_read, start: int, count: int) -> np.ndarray:
    """`count` int16 samples from `start` (fewer at the end of the file)."""
    reader.setpos(start)
    return np.frombuffer(reader.readframes(count), dtype=np.int16)


def loudness_curve(wav_path: Any, window_seconds: float) -> list[float]:
    """RMS level in dBFS of each window (silence floors at -90 dB), read a minute at a time.

    Chunks hold a whole number of windows and each window is reduced on its own, so the
    result is the same as reading the file whole.
    """
    curve: list[float] = []
    with wave.open(str(wav_path), "rb") as reader:
        rate, total = reader.getframerate(), reader.getnframes()
        window = max(1, int(rate * window_seconds))
        per_chunk = max(1, int(rate * CHUNK_SECONDS) // window) * window
        usable = total // window * window
        for start in range(0, usable, per_chunk):
            samples = _read(reader, start, min(per_chunk, usable - start)).astype(np.float32)
            frames = samples.reshape(-1, window) / 32768.0
            rms = np.sqrt(np.mean(frames**2, axis=1))
            levels = np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), -90.0)
            curve.extend(round(float(v), 2) for v in levels)
    return curve


def quietest_sample(reader: wave.Wave_read, around: int, search: int) -> int:
    """The middle of the quietest `QUIET_SPAN_SECONDS` within `around ± search` samples.

    A span, not a single frame: the short gap inside a word (a stop consonant) is not a pause.
    """
    rate = reader.getframerate()
    frame = max(1, int(rate * QUIET_FRAME_SECONDS))
    span = max(1, int(QUIET_SPAN_SECONDS / QUIET_FRAME_SECONDS))
    begin = max(0, around - search)
    samples = _read(reader, begin, 2 * search).astype(np.float32)
    usable = len(samples) // frame * frame
    if usable < frame * span:
        return around
    energy = np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1)
    spans = np.convolve(energy, np.ones(span, dtype=np.float32), mode="valid")
    middles = begin + np.arange(len(spans)) * frame + span * frame // 2
    # The quietest span; among equally quiet ones (digital silence) the one nearest the boundary.
    best = np.lexsort((np.abs(middles - around), spans))[0]
    return int(middles[best])


def wav_pieces(
    wav_path: Any, piece_seconds: float, search_seconds: float
) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, float32 samples in [-1, 1)) for consecutive pieces of about
    `piece_seconds`, each cut at the quietest moment within `search_seconds` of its nominal
    end so that no word is split. Pieces are read one at a time and neither overlap nor leave gaps.
    """
    with wave.open(str(wav_path), "rb") as reader:
        rate, total = reader.getframerate(), reader.getnframes()
        piece = max(1, int(rate * piece_seconds))
        search = max(1, min(int(rate * search_seconds), piece // 4))
        start = 0
        while start < total:
            # The last piece takes the rest rather than leave a sliver shorter than the search span.
            end = total if total - start <= piece + search else quietest_sample(reader, start + piece, search)
            yield start / rate, _read(reader, start, end - start).astype(np.float32) / 32768.0
            start = end


class Audio(Component):
    name = "audio"
    version = "1"
    requires = ("probe",)
    defaults: ClassVar[dict[str, Any]] = {"window_seconds": 0.5}
    weight = 0.5

    def run(self, ctx: ComponentContext) -> ComponentResult:
        info = MediaInfo.from_dict(ctx.read_json("probe.json"))
        if not info.has_audio:
            return ComponentResult(skipped_reason="source has no audio track")
        wav = ctx.output("audio/audio.wav")
        ctx.run_ffmpeg(
            [
                "-y",
                "-i",
                str(ctx.source),
                "-map",
                "0:a:0",
                "-vn",
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-c:a",
                "pcm_s16le",
                str(wav),
            ],
            duration_seconds=info.duration,
            on_progress=lambda f: ctx.progress(0.9 * f),
        )
        window = float(ctx.params["window_seconds"])
        curve = loudness_curve(wav, window)
        loudness = ctx.output("audio/loudness.json")
        loudness.write_text(json.dumps({"window_seconds": window, "db": curve}))
        ctx.progress(1.0)
        median = float(np.median(curve)) if curve else None
        return ComponentResult(
            [
                ProducedArtifact("audio/audio.wav", wav, "audio", "audio/wav"),
                ProducedArtifact("audio/loudness.json", loudness, "json", "application/json"),
            ],
            {"sample_rate": SAMPLE_RATE, "median_db": median},
        )
