"""The voices dub speaks with: each engine writes audible speech of a plausible length, and
Festival gets text its Russian rules can read."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from kadr.media.speech import Voice, default_voice, festival_text, health, synthesize, voices
from tests.conftest import IN_CI


def seconds_and_level(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32)
        return reader.getnframes() / reader.getframerate(), float(np.sqrt(np.mean(samples**2)))


def installed(engine: str, language: str) -> Voice:
    voice = next((v for v in voices() if v.engine == engine and v.language == language), None)
    if voice is None:
        reason = f"no {engine} voice for {language} here (make test installs them)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return voice


@pytest.mark.parametrize(
    ("engine", "language", "text"),
    [
        ("piper", "en", "Keep every sentence short and concrete."),
        ("festival", "ru", "Говорите коротко и конкретно, — и «без» лишних слов , да."),
        ("espeak", "ru", "Говорите коротко и конкретно."),
        ("espeak", "de", "Sprechen Sie kurz und konkret."),
    ],
)
def test_each_voice_speaks(engine: str, language: str, text: str, tmp_path: Path) -> None:
    voice = installed(engine, language)
    short, long = synthesize(voice, [text, f"{text} {text} {text}"], tmp_path)
    short_seconds, level = seconds_and_level(short)
    assert 0.8 < short_seconds < 8 and level > 300, (short_seconds, level)
    assert seconds_and_level(long)[0] > 2 * short_seconds, "three times the text, about three times as long"


def test_the_best_voice_per_language_and_what_health_says() -> None:
    installed("festival", "ru")
    installed("piper", "en")
    assert default_voice("ru") == Voice("festival", "msu_ru_nsh_clunits", "ru")
    assert default_voice("en") == Voice("piper", "en_US-joe-medium", "en")
    assert default_voice("de") == Voice("espeak", "de", "de"), "eSpeak NG where nothing better speaks it"
    assert default_voice("tlh") is None
    report = health()
    assert report["voices"] == {"en": "piper:en_US-joe-medium", "ru": "festival:msu_ru_nsh_clunits"}
    assert report["fallbacks"] == []


def test_festival_gets_text_its_rules_can_read() -> None:
    assert festival_text("Привет , мир — да «так».") == "Привет, мир, да так."
    assert festival_text("10 ,000 просмотров за 2.5 дня") == "10000 просмотров за 2 и 5 дня"
    assert festival_text(" , ") == "."
