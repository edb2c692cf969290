"""audio component: 16 kHz mono WAV and a loudness curve; skipped without an audio track."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from kadr.pipeline.components import audio
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


def _whole_file_loudness(wav_path: Path, window_seconds: float) -> list[float]:
    """The curve as it was computed before chunking: the whole WAV in memory at once."""
    with wave.open(str(wav_path), "rb") as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float32)
        rate = reader.getframerate()
    window = max(1, int(rate * window_seconds))
    usable = len(samples) // window * window
    frames = samples[:usable].reshape(-1, window) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return [round(float(v), 2) for v in np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), -90.0)]


def test_loudness_read_in_chunks_equals_the_whole_file(talk: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = talk.fetch("audio/audio.wav")
    monkeypatch.setattr(audio, "CHUNK_SECONDS", 7.3)  # many chunks on a one-minute sample, uneven end
    for window in (0.5, 0.37, 2.0):
        assert audio.loudness_curve(wav, window) == _whole_file_loudness(wav, window)
    assert talk.json("audio/loudness.json")["db"] == _whole_file_loudness(wav, 0.5)


def test_pieces_cover_the_wav_once_and_are_cut_in_pauses(talk: Bench) -> None:
    wav = talk.fetch("audio/audio.wav")
    with wave.open(str(wav)) as reader:
        everything = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    pieces = list(audio.wav_pieces(wav, 20.0, 10.0))
    assert len(pieces) == 3
    joined = np.concatenate([samples for _, samples in pieces])
    assert np.array_equal(np.round(joined * 32768.0).astype(np.int16), everything), "no gap, no overlap"
    offsets = [offset for offset, _ in pieces]
    assert offsets == [sum(len(s) for _, s in pieces[:i]) / 16000 for i in range(3)]
    # Each cut is in the quiet between sentences, not inside a word.
    speech = float(np.sqrt(np.mean((everything / 32768.0) ** 2)))
    for offset in offsets[1:]:
        assert abs(offset - 20.0 * offsets.index(offset)) <= 5.0
        around = everything[int((offset - 0.1) * 16000) : int((offset + 0.1) * 16000)] / 32768.0
        assert float(np.sqrt(np.mean(around**2))) < speech / 10
