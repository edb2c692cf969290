"""audio: 16 kHz mono WAV for speech recognition, and a loudness curve for highlights."""

from __future__ import annotations

import json
import wave
from typing import Any, ClassVar

import numpy as np

from kadr.media.ffmpeg import run_ffmpeg
from kadr.media.probe import MediaInfo
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact

SAMPLE_RATE = 16_000


def loudness_curve(wav_path: Any, window_seconds: float) -> list[float]:
    """RMS level in dBFS of each window (silence floors at -90 dB)."""
    with wave.open(str(wav_path), "rb") as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float32)
        rate = reader.getframerate()
    window = max(1, int(rate * window_seconds))
    usable = len(samples) // window * window
    if usable == 0:
        return []
    frames = samples[:usable].reshape(-1, window) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return [round(float(v), 2) for v in np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), -90.0)]


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
        run_ffmpeg(
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
            executable=ctx.settings.ffmpeg_binary,
            cancel_event=ctx.cancel_event,
            deadline=ctx.deadline,
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
