"""translate component: the talk's subtitles in other languages with every cue's timing kept,
sentences shared out over the cues they are spoken in, glossaries applied by every engine, the
model's bad answers asked again, and languages it cannot do refused before a run starts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pysubs2
import pytest

from kadr.config import Settings
from kadr.core.errors import PermanentJobError, ValidationFailed
from kadr.llm.language import language_problem
from kadr.media.apertium import apertium_pairs
from kadr.pipeline.components.translate import Cue, Line, sentence_lines, share_out, uses_translation
from kadr.runs.profiles import resolve_plan
from tests.conftest import IN_CI
from tests.pipeline.components.conftest import Bench
from tests.support.openai_server import Failure, OpenAIServer, Reply
from tests.support.pipeline_llm import first_user_message, lines_to_translate, to_cyrillic, translation


def model_bench(talk: Bench, tmp_path: Path, server: OpenAIServer, **settings: Any) -> Bench:
    return Bench(
        talk.source,
        tmp_path / "work",
        Settings(data_dir=tmp_path / "var", **server.settings(), **settings),
        dict(talk.results),
    )


def cue_times(path: Path) -> list[tuple[int, int]]:
    return [(event.start, event.end) for event in pysubs2.load(str(path))]


def texts(path: Path) -> list[str]:
    return [event.plaintext.replace("\n", " ") for event in pysubs2.load(str(path))]


def cue(n: int, start: float, end: float, source: str) -> Cue:
    return Cue(n, start, end, source, budget=len(source))


# --- sentences and cues ---------------------------------------------------------------------
def test_a_sentence_over_several_cues_is_translated_whole_and_shared_out_in_order() -> None:
    cues = [
        cue(1, 0.0, 2.0, "You have about three seconds to earn attention,"),
        cue(2, 2.0, 3.0, "so open with your most"),
        cue(3, 3.0, 4.0, "surprising idea."),
        cue(4, 4.0, 5.0, "Keep it short."),
    ]
    lines = sentence_lines(cues)
    assert [[c.n for c in line.cues] for line in lines] == [[1, 2, 3], [4]]
    assert lines[0].source.endswith("most surprising idea.") and lines[0].budget == sum(
        c.budget for c in cues[:3]
    )

    words = (
        "У вас есть около трёх секунд, чтобы завоевать внимание, так что начните с самой неожиданной идеи."
    )
    shared = share_out(lines[0], words)
    assert [(c.start, c.end) for c in shared] == [(0.0, 2.0), (2.0, 3.0), (3.0, 4.0)], (
        "each cue keeps its time"
    )
    assert " ".join(c.text for c in shared) == words, "every word once, in order, none split"
    assert all(c.text for c in shared)
    assert len(shared[0].text) > len(shared[2].text), "each cue gets its original's share of the text"


def test_a_cue_left_without_words_joins_the_one_before() -> None:
    line = Line(1, [cue(1, 0.0, 1.0, "Thank you"), cue(2, 1.0, 2.0, "very much.")])
    shared = share_out(line, "Спасибо.")
    assert [(c.start, c.end, c.text) for c in shared] == [(0.0, 2.0, "Спасибо.")]


def test_glossary_translations_match_inflected_words() -> None:
    assert uses_translation("Самая большая ошибка авторов — медленное начало", "авторы")
    assert uses_translation("Вертикальные клипы", "вертикальный клип")
    assert not uses_translation("Самая большая ошибка создателей", "авторы")


# --- what a run may ask for -----------------------------------------------------------------
def test_languages_the_installation_cannot_translate_into_are_refused_with_the_list(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    settings = Settings(data_dir=tmp_path, **openai_server.settings())
    plan = resolve_plan(settings, {"translate": {"languages": ["RU", "ru", "en"]}})
    assert plan["translate"]["languages"] == ["ru", "en"]
    assert plan["translate"]["llm"] == "openai:standin-1", "the model is part of the config_hash"
    assert list(plan) == ["probe", "audio", "transcribe", "translate"]
    with pytest.raises(
        ValidationFailed, match=r"cannot translate into xx; it can translate into: .*en, es,.*ru"
    ):
        resolve_plan(settings, {"translate": {"languages": ["ru", "xx"]}})
    with pytest.raises(ValidationFailed, match="languages must name at least one language"):
        resolve_plan(settings, {"translate": {}})
    with pytest.raises(ValidationFailed, match="engine must be one of llm, apertium"):
        resolve_plan(settings, {"translate": {"languages": ["ru"], "engine": "deepl"}})
    with pytest.raises(ValidationFailed, match=r'glossary key .* must be "<source>><target>"'):
        resolve_plan(settings, {"translate": {"languages": ["ru"], "glossary": {"ru": {"a": "b"}}}})
    with pytest.raises(ValidationFailed, match="translate needs a language model"):
        resolve_plan(Settings(data_dir=tmp_path, llm_engine="off"), {"translate": {"languages": ["ru"]}})
    if ("en", "es") in apertium_pairs():
        with pytest.raises(
            ValidationFailed, match="apertium engine cannot translate into ru; it can translate into: en, es"
        ):
            resolve_plan(settings, {"translate": {"languages": ["ru"], "engine": "apertium"}})


# --- the llm engine, against an OpenAI-compatible stand-in ----------------------------------
def test_each_language_keeps_every_cue_and_its_timing(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = translation
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("subtitles")
    result = bench.run("translate", languages=["ru", "en"], dual=True)

    original = bench.fetch("subtitles/subtitles.srt")
    russian, english = (
        bench.fetch("translations/ru/subtitles.srt"),
        bench.fetch("translations/en/subtitles.srt"),
    )
    assert cue_times(russian) == cue_times(original) == cue_times(english)
    assert cue_times(bench.fetch("translations/ru/subtitles.vtt")) == cue_times(original)
    assert texts(english) == texts(original), "the talk's own language is its cues, copied"
    for text in texts(russian):
        assert language_problem(text, "ru") is None, text
    document = bench.json("translations/ru/cues.json")
    assert document["source_language"] == "en" and document["engine"] == "llm"
    assert " ".join(c["text"] for c in document["cues"]) == to_cyrillic(
        " ".join(c["source"] for c in document["cues"])
    )
    assert all(c["budget"] >= len(c["source"]) for c in document["cues"])
    dual = [
        event.plaintext.split("\n")
        for event in pysubs2.load(str(bench.fetch("translations/ru/subtitles.dual.srt")))
    ]
    assert len(dual) == len(texts(original))
    assert re.search("[а-я]", dual[0][0]) and "Welcome" in " ".join(dual[0]), (
        "the translation above the original"
    )
    assert "translations/en/subtitles.dual.srt" not in {a.name for a in result.artifacts}
    summary = result.summary
    assert summary["source_language"] == "en" and summary["languages"] == ["ru", "en"]
    assert summary["cues"] == len(texts(original)) and 0 < summary["sentences"] <= summary["cues"]
    assert summary["llm_calls"] == len(openai_server.requests) > 0
    assert bench.progress["translate"][-1] == 1.0


def test_a_missing_or_empty_sentence_is_asked_again_naming_it(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    def forgetful(body: dict[str, Any]) -> str:
        asks = [r for r in openai_server.requests if first_user_message(r.body) == first_user_message(body)]
        numbers = list(lines_to_translate(body))
        if len(asks) == 1:  # the first answer skips one sentence and leaves another as "…"
            answer = json.loads(translation(body, skip=(numbers[0],)))
            answer["cues"][0]["text"] = "..."
            return json.dumps(answer)
        return translation(body)

    openai_server.answer = forgetful
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("translate", languages=["ru"], batch_lines=4)

    first_batch = [r.body for r in openai_server.requests[:2]]
    feedback = first_batch[1]["messages"][-1]["content"]
    assert "subtitles 1 are missing or empty" in feedback and "subtitle 2 has no words" in feedback
    assert all(re.search("[а-я]", c["text"]) for c in bench.json("translations/ru/cues.json")["cues"])


def test_glossary_terms_are_used_and_asked_for_again_when_left_out(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    seen: list[str] = []

    def stubborn(body: dict[str, Any]) -> str:
        seen.append(first_user_message(body))
        return translation(body, use_glossary=len(body["messages"]) > 2)  # only once told again

    openai_server.answer = stubborn
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("translate", languages=["ru"], glossary={"en>ru": {"creators": "авторы", "absent term": "нет"}})

    assert any("- creators → авторы" in prompt for prompt in seen), "the prompt lists the batch's terms"
    assert not any("absent term" in prompt for prompt in seen), "terms the batch does not say are left out"
    problems = [
        r.body["messages"][-1]["content"] for r in openai_server.requests if len(r.body["messages"]) > 2
    ]
    assert any("must translate 'creators' as 'авторы'" in problem for problem in problems)
    assert "авторы" in " ".join(texts(bench.fetch("translations/ru/subtitles.srt")))


def test_a_batch_the_model_cannot_answer_is_asked_in_halves(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    def only_one_at_a_time(body: dict[str, Any]) -> str:
        return translation(body) if len(lines_to_translate(body)) == 1 else '{"cues": []}'

    openai_server.answer = only_one_at_a_time
    bench = model_bench(talk, tmp_path, openai_server, llm_repair_attempts=0)
    result = bench.run("translate", languages=["ru"], batch_lines=2)
    sentences = result.summary["sentences"]
    assert len(bench.json("translations/ru/cues.json")["cues"]) == result.summary["cues"]
    singles = [r for r in openai_server.requests if len(lines_to_translate(r.body)) == 1]
    assert len(singles) == sentences, "every sentence was translated on its own in the end"


def test_a_busy_provider_is_retried_and_a_refusing_one_fails_with_its_reason(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = translation
    openai_server.then(Failure(429, "slow down", retry_after="0", type="rate_limit_exceeded"))
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("translate", languages=["ru"])
    assert openai_server.requests[0].body != {} and len(openai_server.requests) >= 2

    openai_server.then(Failure(401, "Incorrect API key provided", type="invalid_request_error"))
    with pytest.raises(PermanentJobError, match=r"translate: .*Incorrect API key"):
        model_bench(talk, tmp_path / "again", openai_server).run("translate", languages=["de"])


def test_an_answer_in_another_script_is_asked_again(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    english = json.dumps(
        {"cues": [{"n": 1, "text": "Welcome to this short talk about making videos people watch."}]}
    )
    openai_server.then(Reply(english))
    openai_server.answer = translation
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("translate", languages=["ru"], batch_lines=1)
    assert (
        "partly in Latin letters: write all of it in Russian"
        in openai_server.requests[1].body["messages"][-1]["content"]
    )
    assert re.search("[а-я]", texts(bench.fetch("translations/ru/subtitles.srt"))[0])


# --- the apertium engine ---------------------------------------------------------------------
def test_apertium_translates_english_into_spanish_with_the_glossary(talk: Bench, tmp_path: Path) -> None:
    if ("en", "es") not in apertium_pairs():
        reason = "Apertium's en-es pair is not installed (make test installs apertium apertium-en-es)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    bench = Bench(talk.source, tmp_path / "work", Settings(data_dir=tmp_path / "var"), dict(talk.results))
    bench.run("subtitles")
    result = bench.run(
        "translate", languages=["es"], engine="apertium", glossary={"en>es": {"vertical clips": "shorts"}}
    )
    spanish = texts(bench.fetch("translations/es/subtitles.srt"))
    assert cue_times(bench.fetch("translations/es/subtitles.srt")) == cue_times(
        bench.fetch("subtitles/subtitles.srt")
    )
    assert spanish[0].startswith("Bienvenido"), spanish[0]
    assert "shorts" in " ".join(spanish) and "vertical clips" not in " ".join(spanish)
    assert result.summary["engine"] == "apertium" and "llm_calls" not in result.summary


# --- the embedded model ------------------------------------------------------------------------
def _embedded_model_missing() -> str | None:
    from kadr.llm.engines.local import runtime_available
    from kadr.llm.model_files import CATALOG

    if not runtime_available():
        return "llama-cpp-python is not installed (`make install`)"
    if not CATALOG[Settings().llm_local_model].installed():
        return f"the embedded model {Settings().llm_local_model} is not installed (`make install`)"
    return None


def test_the_embedded_model_translates_the_talk_into_russian(talk: Bench, tmp_path: Path) -> None:
    missing = _embedded_model_missing()
    if missing:
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    bench = Bench(
        talk.source,
        tmp_path / "work",
        Settings(data_dir=tmp_path / "var", llm_engine="local"),
        dict(talk.results),
    )
    bench.run("subtitles")
    result = bench.run("translate", languages=["ru"], glossary={"en>ru": {"creators": "авторы"}})
    russian = texts(bench.fetch("translations/ru/subtitles.srt"))
    assert cue_times(bench.fetch("translations/ru/subtitles.srt")) == cue_times(
        bench.fetch("subtitles/subtitles.srt")
    )
    for text in russian:
        assert text.strip() and language_problem(text, "ru") is None, text
    assert uses_translation(" ".join(russian), "авторы"), russian
    assert result.summary["llm"].startswith("local:qwen2.5-coder-1.5b")
