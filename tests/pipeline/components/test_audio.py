"""audio component: 16 kHz mono WAV and a loudness curve; skipped without an audio track."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.pipeline.components.conftest import Bench, make_bench
from tests.support.media import make_video


def test_wav_is_16k_mono_and_as_long_as_the_source(talk: Bench) -> None:
    with wave.open(str(talk.fetch("audio/audio.wav"))) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(seconds - talk.json("probe.json")["duration"]) < 0.5
    loudness = talk.json("audio/loudness.json")
    assert loudness["window_seconds"] == 0.5
    assert abs(len(loudness["db"]) - seconds / 0.5) <= 1
    assert max(loudness["db"]) > -30 > min(loudness["db"]), "speech is loud, pauses are quiet"
    assert talk.progress["audio"][-1] == 1.0


def test_skipped_when_there_is_no_audio(tmp_path: Path) -> None:
    bench = make_bench(make_video(tmp_path / "mute.mp4", 2, audio=False), tmp_path / "w", "probe", "audio")
    assert bench.results["audio"].skipped_reason == "source has no audio track"
    assert bench.results["audio"].artifacts == []
