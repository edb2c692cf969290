"""Answers the OpenAI stand-in gives the pipeline's prompts, made from the request as a model
would: it reads the numbered candidates (highlights) or the clip's text (metadata) it was sent.

`server.answer = pipeline_answer` serves both; which prompt is being answered is told by the
`response_format`'s schema name, as a real server would see it.
"""

from __future__ import annotations

import json
import re
from typing import Any

CANDIDATE_LINE = re.compile(r"^\[(\d+)\] \((\d+):(\d+)-(\d+):(\d+),", re.MULTILINE)


def first_user_message(body: dict[str, Any]) -> str:
    return next(str(m["content"]) for m in body["messages"] if m["role"] == "user")


def schema_name(body: dict[str, Any]) -> str:
    return str(((body.get("response_format") or {}).get("json_schema") or {}).get("name", ""))


def candidate_spans(body: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """The candidates the highlights prompt listed: number -> (start, end) in whole seconds."""
    return {
        int(number): (int(m1) * 60 + int(s1), int(m2) * 60 + int(s2))
        for number, m1, s1, m2, s2 in CANDIDATE_LINE.findall(first_user_message(body))
    }


def candidate_numbers(body: dict[str, Any]) -> list[int]:
    return list(candidate_spans(body))


def apart(body: dict[str, Any]) -> list[int]:
    """Candidates that do not overlap, the local scorer's weakest first (so a test can tell
    the model's choice from the scorer's), as many as the prompt asks for."""
    chosen: list[int] = []
    spans = candidate_spans(body)
    for number in reversed(spans):
        start, end = spans[number]
        # Whole seconds: spans that only touch may seem to share a second.
        if all(end - 1 <= spans[other][0] or spans[other][1] - 1 <= start for other in chosen):
            chosen.append(number)
    return chosen[: wanted_moments(body)]


def wanted_moments(body: dict[str, Any]) -> int:
    found = re.search(r"Choose the best (\d+)", first_user_message(body))
    assert found, "the highlights prompt says how many moments to choose"
    return int(found.group(1))


def ranking(body: dict[str, Any], numbers: list[int] | None = None) -> str:
    """Choose `numbers` (default: `apart`), scored downwards in that order."""
    if numbers is None:
        numbers = apart(body)
    moments = [
        {
            "candidate": number,
            "title": f"Moment {number}: the part people share",
            "reason": f"Candidate {number} makes one complete point with a strong opening",
            "score": round(0.9 - 0.1 * position, 2),
        }
        for position, number in enumerate(numbers)
    ]
    return json.dumps({"moments": moments})


def publishing_text(body: dict[str, Any]) -> str:
    """Texts for a clip (titled after the editor's working title) or the whole video."""
    prompt = first_user_message(body)
    hint = re.search(r"working title was: (.*)\)", prompt)
    title = f"Watch: {hint.group(1)}" if hint else "The whole talk in one video"
    answer: dict[str, Any] = {
        "title": title[:90],
        "description": f"{title}. A short description of what the viewer learns.",
        "telegram_caption": f"{title}\n\nWhat you learn in it. #video #talk",
        "tags": ["video editing", "short clips", "captions"],
        "hashtags": ["#video", "#talk", "short clips"],
    }
    return json.dumps(answer)


def careless_publishing_text() -> str:
    """Texts far past every platform's limit, with angle brackets, as a careless model writes
    them (yet within the answer schema's looser bounds)."""
    return json.dumps(
        {
            "title": "Why <this> matters " + "really " * 25,
            "description": "A <b>bold</b> claim, and more words. " * 160,
            "telegram_caption": "Caption words that go on and on. " * 50,
            "tags": [f"a rather long search tag number {index}" for index in range(30)],
            "hashtags": [f"#tag{index}" for index in range(30)],
        }
    )


TRANSLATE_LINE = re.compile(r"^\[(\d+)\] \(at most (\d+) characters\) (.*)$", re.MULTILINE)
GLOSSARY_LINE = re.compile(r"^- (.+) → (.+)$", re.MULTILINE)
#: A "translation" into Russian a test can predict: the glossary's terms as given, every other
#: Latin letter in Cyrillic (so the gateway's script check sees Russian).
CYRILLIC = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "абкдефгхийклмнопкрстуввхызАБКДЕФГХИЙКЛМНОПКРСТУВВХЫЗ",
)


def lines_to_translate(body: dict[str, Any]) -> dict[int, str]:
    """The numbered sentences a translate prompt asks for: number -> source text."""
    return {int(n): text for n, _budget, text in TRANSLATE_LINE.findall(first_user_message(body))}


def to_cyrillic(text: str, glossary: dict[str, str] | None = None) -> str:
    for term, translation in (glossary or {}).items():
        text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", "\0" + translation + "\0", text, flags=re.I)
    parts = text.split("\0")
    return "".join(part if index % 2 else part.translate(CYRILLIC) for index, part in enumerate(parts))


def translation(body: dict[str, Any], skip: tuple[int, ...] = (), use_glossary: bool = True) -> str:
    """Every numbered sentence "translated" (`to_cyrillic`, glossary applied unless told not
    to), except those in `skip`."""
    glossary = dict(GLOSSARY_LINE.findall(first_user_message(body))) if use_glossary else {}
    cues = [
        {"n": n, "text": to_cyrillic(text, glossary)}
        for n, text in lines_to_translate(body).items()
        if n not in skip
    ]
    return json.dumps({"cues": cues}, ensure_ascii=False)


def pipeline_answer(body: dict[str, Any]) -> str:
    """A valid answer to whichever pipeline prompt `body` carries."""
    name = schema_name(body)
    if name == "HighlightRanking":
        return ranking(body)
    if name == "PublishingText":
        return publishing_text(body)
    if name == "TranslatedCues":
        return translation(body)
    raise AssertionError(f"no stand-in answer for the schema {name!r}")
