"""Answers a scriptwriting model would give, made from the request the OpenAI stand-in receives:
which schema it asks for (`response_format.json_schema.name`) and what its prompt says (target
duration, words per minute, language, the scene to rewrite). Set as `server.answer`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from tests.support.openai_server import OpenAIServer

WORDS = {
    "en": "light moves fast through the quiet city while people wait for the morning train",
    "ru": "свет быстро бежит по тихому городу пока люди ждут утренний поезд домой",
}


def _find(pattern: str, text: str, default: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else default


def _words(language: str, count: int, offset: int = 0) -> str:
    bank = WORDS.get(language, WORDS["en"]).split()
    return " ".join(bank[(offset + i) % len(bank)] for i in range(max(1, count)))


def brief_of(body: dict[str, Any]) -> dict[str, Any]:
    """What the first user message asks for (later messages are re-asks)."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    system = body["messages"][0]["content"]
    return {
        "prompt": prompt,
        "system": system,
        "schema": ((body.get("response_format") or {}).get("json_schema") or {}).get("name", ""),
        "language": _find(r"Language: [^(\n]*\((\w+(?:-\w+)?)\)", prompt, "")
        or _find(r"Write every (?:text|title) in (\w+)", system, "en"),
        "duration_s": float(_find(r"Target duration: (\d+) seconds", prompt, "60")),
        "words_per_minute": int(
            _find(r"Narration speed: (\d+) words", prompt, "") or _find(r"\* (\d+) / 60", system, "150")
        ),
        "scenes": int(_find(r"Scenes: (?:write exactly|about) (\d+)", prompt, "4")),
    }


LANGUAGE_CODES = {"English": "en", "Russian": "ru"}


def scenes_for(
    duration_s: float, count: int, words_per_minute: int, language: str, *, recut: bool = False
) -> list[dict[str, Any]]:
    """`count` scenes adding up to `duration_s`, each narration within its words per minute."""
    length = round(duration_s / count, 1)
    durations = [length] * (count - 1) + [round(duration_s - length * (count - 1), 1)]
    scenes, at = [], 0.0
    for n, seconds in enumerate(durations, 1):
        words = max(1, int(seconds * words_per_minute / 60) - 1)
        scenes.append(
            {
                "n": n,
                "duration_s": seconds,
                "visual": f"{_words(language, 4, n)}",
                "shot": "close-up" if n % 2 else "wide",
                "narration": _words(language, words, n),
                "on_screen_text": _words(language, 2, n + 3),
                "source_start": round(at, 1) if recut else None,
                "source_end": round(at + seconds, 1) if recut else None,
            }
        )
        at += seconds
    return scenes


def scriptwriter(body: dict[str, Any]) -> str:
    """A valid answer to whatever scenario prompt `body` carries."""
    brief = brief_of(body)
    language = LANGUAGE_CODES.get(brief["language"], brief["language"])
    if brief["schema"] == "TitleIdeas":
        n = int(_find(r"exactly (\d+) different titles", brief["prompt"], "3"))
        return json.dumps(
            {"titles": [f"{_words(language, 3, i)} {i + 1}" for i in range(n)]}, ensure_ascii=False
        )
    if brief["schema"] == "Scene":
        number = int(_find(r"Rewrite scene (\d+)", brief["prompt"], "1"))
        seconds = float(_find(r"lasts ([\d.]+) seconds", brief["system"], "5"))
        current = json.loads(_find(r"Rewrite scene \d+:\n(\{.*\})", brief["prompt"], "{}"))
        words = max(1, int(seconds * brief["words_per_minute"] / 60) - 2)
        return json.dumps(
            {
                **current,
                "n": number,
                "duration_s": seconds,
                "narration": _words(language, words, 7),
                "visual": "rewritten " + _words(language, 3),
            },
            ensure_ascii=False,
        )
    recut = brief["schema"] == "RecutDraft"
    scenes = scenes_for(
        brief["duration_s"], brief["scenes"], brief["words_per_minute"], language, recut=recut
    )
    return json.dumps(
        {
            "title": _words(language, 4),
            "logline": _words(language, 9),
            "hook": _words(language, 6, 2),
            "scenes": scenes,
            "call_to_action": _words(language, 5, 4),
        },
        ensure_ascii=False,
    )


def talkative(body: dict[str, Any]) -> str:
    """A scenario whose scene 2 says far more than the whole target holds: never valid."""
    answer = json.loads(scriptwriter(body))
    answer["scenes"][1]["narration"] = " ".join(["word"] * 400)
    return json.dumps(answer, ensure_ascii=False)


def misfit(body: dict[str, Any]) -> str:
    """A scenario whose scenes last twice the target (scene 2 the longest) while the words
    would fit: the program shares the target among the scenes instead."""
    answer = json.loads(scriptwriter(body))
    answer["scenes"][1]["duration_s"] = float(brief_of(body)["duration_s"])
    return json.dumps(answer, ensure_ascii=False)


def scriptwriter_settings(server: OpenAIServer) -> dict[str, Any]:
    """kadr settings reaching the stand-in, which answers as `scriptwriter`."""
    server.answer = scriptwriter
    return {**server.settings(), "llm_timeout_seconds": 5.0, "llm_max_retries": 0}


async def wait_for_scenario(
    client: httpx.AsyncClient, headers: dict[str, str], scenario_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    """Poll until the scenario is ready or failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(f"/v1/scenarios/{scenario_id}", headers=headers)
        assert response.status_code == 200, response.text
        scenario: dict[str, Any] = response.json()
        if scenario["status"] in ("ready", "failed"):
            return scenario
        if loop.time() > deadline:
            raise AssertionError(
                f"scenario {scenario_id} still {scenario['status']} after {timeout}s: {scenario}"
            )
        await asyncio.sleep(0.1)
