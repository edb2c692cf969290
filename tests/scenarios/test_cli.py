"""`kadr scenario generate` as a person runs it: a progress bar, then the scenario."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.support.openai_server import OpenAIServer
from tests.support.process import kadr_command, kadr_env
from tests.support.scenarios import scriptwriter_settings


def run_kadr(*args: str, data_dir: Path, **settings: Any) -> subprocess.CompletedProcess[str]:
    values = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in settings.items()}
    return subprocess.run(
        kadr_command(*args),
        env=kadr_env(data_dir, **values),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_generate_shows_progress_and_prints_the_scenario(tmp_path: Path, openai_server: OpenAIServer) -> None:
    settings = scriptwriter_settings(openai_server)
    args = (
        "scenario",
        "generate",
        "--topic",
        "Как варить кофе в турке",
        "--language",
        "ru",
        "--duration",
        "60",
    )
    result = run_kadr(*args, data_dir=tmp_path / "var", **settings)
    assert result.returncode == 0, result.stderr
    assert "scenario" in result.stderr and "100.0%" in result.stderr, "a Rich progress bar is shown"
    assert "is ready" in result.stderr
    assert "Hook:" in result.stdout and "Call to action:" in result.stdout
    assert (
        "утренний" in result.stdout
        and "youtube_shorts, 9:16, ru, 60 s at 130 words per minute" in result.stdout
    )
    assert len(openai_server.requests) == 1

    again = run_kadr(*args, "--json", data_dir=tmp_path / "var", **settings)
    assert again.returncode == 0, again.stderr
    scenario = json.loads(again.stdout)
    assert scenario["language"] == "ru" and 54 <= sum(s["duration_s"] for s in scenario["scenes"]) <= 66
    assert "from the render cache" in " ".join(again.stderr.split()) and len(openai_server.requests) == 1


def test_generate_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    off = run_kadr("scenario", "generate", "--topic", "Tea", data_dir=tmp_path / "var", llm_engine="off")
    assert off.returncode == 1 and "KADR_LLM_ENGINE=off" in off.stderr and "Traceback" not in off.stderr
    bad = run_kadr("scenario", "generate", "--topic", "Tea", "--duration", "1", data_dir=tmp_path / "var")
    assert bad.returncode == 2 and "duration_s" in bad.stderr and "Traceback" not in bad.stderr
