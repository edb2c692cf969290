"""The script check: what small models get wrong (a Russian answer drifting into English or
Chinese) is caught; what is normal (brand names in Latin letters inside Russian) passes."""

from __future__ import annotations

import pytest

from kadr.llm.language import (
    LONG_TEXT_LETTERS,
    MAX_FOREIGN_SHARE,
    MAX_LATIN_RUN,
    MIN_SHARE,
    language_problem,
    script_shares,
)


def test_english_answered_in_cyrillic_is_a_problem() -> None:
    problem = language_problem("Это рассказ о садах и о том, как их поливать.", "en")
    assert problem is not None
    assert "written in en (latin letters)" in problem and "cyrillic 100%" in problem


def test_russian_answered_in_latin_is_a_problem() -> None:
    problem = language_problem("This is a story about gardens and how to water them.", "ru")
    assert problem is not None
    assert "written in ru (cyrillic letters)" in problem and "latin 100%" in problem


def test_russian_answered_in_chinese_is_a_problem() -> None:
    problem = language_problem("这是一个关于花园以及如何浇水的故事。", "ru")
    assert problem is not None and "cjk 100%" in problem


def test_russian_drifting_into_chinese_midway_is_a_problem() -> None:
    text = "Сегодня мы поговорим о садах, 然后我们会讨论如何浇水和施肥的问题"
    assert script_shares(text)["CJK"] > MAX_FOREIGN_SHARE
    problem = language_problem(text, "ru")
    assert problem is not None and "are cjk" in problem


@pytest.mark.parametrize(
    "text",
    [
        "Мы сняли ролик на iPhone и смонтировали его в DaVinci Resolve, а потом выложили на YouTube.",
        "Обзор iPhone 15 Pro Max",  # a title: fewer Cyrillic letters than Latin, still Russian
        "Как я снимаю для YouTube Shorts #shorts #vlog",
        "Сравниваем Apple Watch, Galaxy Watch и Pixel Watch: какие часы лучше?",
    ],
)
def test_russian_with_a_few_latin_brand_names_passes(text: str) -> None:
    assert language_problem(text, "ru") is None


def test_russian_with_an_english_sentence_is_a_problem() -> None:
    text = "Отличный ролик о садах. I hope you enjoyed this video about gardens."
    problem = language_problem(text, "ru")
    assert problem is not None
    assert "passage in latin letters" in problem and "I hope you enjoyed" in problem
    # A name of MAX_LATIN_RUN words is still a name.
    assert (
        language_problem("Смотрите " + " ".join(["Final", "Cut", "Pro", "X"][:MAX_LATIN_RUN]), "ru") is None
    )


def test_a_long_answer_mostly_in_latin_phrases_is_a_problem_for_russian() -> None:
    text = (
        "Итак: Apple Watch, Galaxy Buds, Pixel Fold, Surface Pro, ThinkPad Carbon, MacBook Air, Kindle Oasis."
    )
    assert sum(char.isalpha() for char in text) >= LONG_TEXT_LETTERS
    assert script_shares(text)["CYRILLIC"] < MIN_SHARE
    problem = language_problem(text, "ru")
    assert problem is not None and "only" in problem


def test_english_with_untranslated_russian_words_is_a_problem() -> None:
    problem = language_problem("The gardener waters the грядки every morning before работа.", "en")
    assert problem is not None and "cyrillic" in problem


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("A calm talk about gardens.", "en"),
        ("Una charla tranquila sobre jardines, ¿verdad?", "es"),
        ("Спокойный разговор о садах.", "ru-RU"),
        ("Спокійна розмова про сади.", "uk"),
        ("花园的故事, 用 iPhone 拍摄", "zh"),
        ("ひらがなとカタカナと漢字", "ja"),
        ("정원에 대한 이야기", "ko"),
    ],
)
def test_text_in_the_expected_script_passes(text: str, language: str) -> None:
    assert language_problem(text, language) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("anything at all", None),  # no language asked for
        ("любой текст", "xx"),  # a language whose script is not known
        ("2024 — 12:30, 100%!", "ru"),  # no letters: nothing to tell
    ],
)
def test_what_cannot_be_told_is_not_a_problem(text: str, language: str | None) -> None:
    assert language_problem(text, language) is None


def test_digits_and_punctuation_do_not_count_as_letters() -> None:
    assert script_shares("Сад 2024: 100% — ok") == pytest.approx({"CYRILLIC": 3 / 5, "LATIN": 2 / 5})
