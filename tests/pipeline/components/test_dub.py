"""dub component: the talk spoken in Russian over its own video, each cue fitted to its slot
(tempo up to 1.2x, then the silence after it, then reported as late), the original ducked
under it as a second track, and the result heard as Russian by the multilingual Whisper."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import av
import pytest

from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.media.speech import default_voice
from kadr.pipeline.components.dub import fit_cues
from kadr.runs.profiles import resolve_plan
from tests.conftest import DATA_DIR, IN_CI
from tests.pipeline.components.conftest import Bench
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_llm import lines_to_translate

#: The sample talk (tests/data/talk.txt) in Russian, sentence by sentence, as a translator
#: would give it; the stand-in answers each sentence it is asked for with the closest one.
RUSSIAN = dict(
    zip(
        re.split(r"(?<=[.?!])\s+", (DATA_DIR / "talk.txt").read_text().strip()),
        (
            "Добро пожаловать на короткий доклад о том, как снимать видео, которые досматривают.",
            "Главная ошибка авторов — медленное начало.",
            "У вас есть три секунды, чтобы завоевать внимание, так что начните с самой неожиданной мысли.",
            "Говорите коротко и конкретно.",
            (
                "Никто не помнит расплывчатых обещаний, но все помнят числа, например десять "
                "тысяч просмотров за неделю."
            ),
            "Вот секрет, который всё изменил для нашей команды.",
            "Мы перестали гадать, измерили, какими моментами делятся, и нарезали из них вертикальные клипы.",
            "Почему это работает?",
            "Короткие клипы расходятся дальше длинных видео, а субтитры дают смотреть без звука в метро.",
            "И наконец, публикуйте по расписанию.",
            "Постоянство важнее напора.",
            "Спасибо, что послушали.",
        ),
        strict=True,
    )
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def russian_translation(body: dict[str, Any]) -> str:
    cues = [
        {"n": n, "text": RUSSIAN[max(RUSSIAN, key=lambda english: len(_words(english) & _words(source)))]}
        for n, source in lines_to_translate(body).items()
    ]
    return json.dumps({"cues": cues}, ensure_ascii=False)


def needs_festival() -> None:
    voice = default_voice("ru")
    if voice is None or voice.engine != "festival":
        reason = "Festival's Russian voice is not installed (make test installs festival festvox-ru)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def test_speech_is_fitted_by_tempo_then_the_silence_after_then_reported_late() -> None:
    cues = [
        {"n": 1, "start": 0.0, "end": 2.0, "text": "a"},
        {"n": 2, "start": 3.0, "end": 5.0, "text": "b"},
        {"n": 3, "start": 6.0, "end": 8.0, "text": "c"},
        {"n": 4, "start": 8.0, "end": 9.0, "text": "d"},
    ]
    placed = fit_cues(cues, [2.2, 3.0, 4.0, 0.5], duration=10.0, max_tempo=1.2)
    first, second, third, fourth = placed
    assert (first["tempo"], first["borrowed_seconds"], first["overrun_seconds"]) == (1.1, 0.0, 0.0)
    assert second["tempo"] == 1.2 and second["borrowed_seconds"] == 0.5, (
        "2.5 s spoken: half a second of the gap"
    )
    assert third["tempo"] == 1.2 and third["borrowed_seconds"] == 0.0, "no silence after it to borrow"
    assert third["overrun_seconds"] == pytest.approx(1.333, abs=0.001)
    assert fourth["drift_seconds"] == pytest.approx(1.333, abs=0.001), "the next cue starts after it"
    assert fourth["tempo"] == 1.0 and all(cue["tempo"] <= 1.2 for cue in placed)


def test_languages_voices_and_tempo_are_checked_when_the_run_is_created(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    needs_festival()
    settings = Settings(data_dir=tmp_path, **openai_server.settings())
    plan = resolve_plan(settings, {"translate": {"languages": ["ru", "en"]}, "dub": {}})
    assert plan["dub"]["languages"] == ["ru", "en"], "every translated language by default"
    assert plan["dub"]["voices"]["ru"] == "festival:msu_ru_nsh_clunits"
    assert plan["dub"]["voices"]["en"] == "piper:en_US-joe-medium"
    espeak = resolve_plan(
        settings, {"translate": {"languages": ["de"]}, "dub": {"voices": {"de": "espeak:de"}}}
    )
    assert espeak["dub"]["voices"] == {"de": "espeak:de"}
    with pytest.raises(ValidationFailed, match=r"dub: de is not translated; translate\.languages has ru"):
        resolve_plan(settings, {"translate": {"languages": ["ru"]}, "dub": {"languages": ["de"]}})
    with pytest.raises(
        ValidationFailed, match=r"no voice 'piper:nobody' for ru here; voices for ru: festival:"
    ):
        resolve_plan(
            settings, {"translate": {"languages": ["ru"]}, "dub": {"voices": {"ru": "piper:nobody"}}}
        )
    with pytest.raises(ValidationFailed, match=r"max_tempo must be between 1\.0 and 1\.2"):
        resolve_plan(settings, {"translate": {"languages": ["ru"]}, "dub": {"max_tempo": 1.5}})


def test_the_talk_dubbed_into_russian(talk: Bench, tmp_path: Path, openai_server: OpenAIServer) -> None:
    needs_festival()
    openai_server.answer = russian_translation
    settings = Settings(data_dir=tmp_path / "var", **openai_server.settings())
    bench = Bench(talk.source, tmp_path / "work", settings, dict(talk.results))
    bench.run("translate", languages=["ru"])
    result = bench.run("dub", plan={"translate": {"languages": ["ru"]}})

    with av.open(str(bench.fetch("dub/ru.mp4"))) as dubbed, av.open(str(talk.source)) as source:
        kinds = [stream.type for stream in dubbed.streams]
        assert kinds == ["video", "audio", "audio"], "the video copied, the dub first, the original second"
        audio = dubbed.streams.audio
        assert audio[0].metadata["language"] == "rus" and audio[1].metadata["language"] == "eng"
        assert dubbed.duration == pytest.approx(source.duration, rel=0.02), "the source's length"
    assert bench.fetch("dub/ru.wav").stat().st_size > 1_000_000

    timing = bench.json("dub/ru_timing.json")
    cues = bench.json("translations/ru/cues.json")["cues"]
    assert [c["n"] for c in timing["cues"]] == [c["n"] for c in cues]
    assert all(1.0 <= c["tempo"] <= 1.2 and c["drift_seconds"] >= 0 for c in timing["cues"])
    summary = result.summary["languages"]["ru"]
    assert summary["voice"] == "festival:msu_ru_nsh_clunits" and result.summary["fallbacks"] == []
    assert result.summary["max_drift_seconds"] == max(c["drift_seconds"] for c in timing["cues"])

    heard = Bench(bench.fetch("dub/ru.mp4"), tmp_path / "heard", Settings(data_dir=tmp_path / "heard-var"))
    for name in ("probe", "audio"):
        heard.run(name)
    transcript = heard.run("transcribe", language="auto") and heard.json("transcript.json")
    assert transcript["language"] == "ru", transcript["language"]
    said = _words(" ".join(RUSSIAN.values()))
    recognised = _words(transcript["text"])
    assert len(recognised & said) / len(said) > 0.4, transcript["text"]

    # Clips in Russian: the translated captions burned, the dub as the clip's sound.
    plan = {"translate": {"languages": ["ru"]}, "dub": {}}
    clips = bench.run("clips", plan=plan, count=1, aspects=["9:16"], language="ru", audio="dub")
    (listed,) = json.loads(clips.artifacts[-1].path.read_text())
    assert (listed["language"], listed["audio"]) == ("ru", "dub")
    captions = bench.fetch("clips/clip_01_9x16.ass").read_text()
    assert re.search(r"[а-яё]{3,}", captions.lower()), "the captions are the Russian cues"
    with av.open(str(bench.fetch(listed["name"]))) as clip:
        (sound,) = clip.streams.audio
        assert sound.metadata["language"] == "rus", "the dub's sound, tagged"
        assert clip.duration == pytest.approx(listed["duration"] * 1_000_000, rel=0.05)
    with pytest.raises(
        ValidationFailed, match="clips: language de is not translated in this run; translate has ru"
    ):
        resolve_plan(settings, {**plan, "clips": {"language": "de", "audio": "dub"}})
    resolved = resolve_plan(settings, {"translate": {"languages": ["ru"]}, "clips": {"language": "ru"}})
    assert list(resolved).index("translate") < list(resolved).index("clips"), "clips read the translation"
    with pytest.raises(ValidationFailed, match='clips: audio "dub" needs the dub'):
        resolve_plan(settings, {**plan, "clips": {"audio": "dub"}})
