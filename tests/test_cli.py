"""The `kadr` command as a person runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pysubs2
import pytest

from tests.support.process import kadr_command, kadr_env

pytestmark = pytest.mark.slow


def run_kadr(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        kadr_command(*args),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_process_writes_artifacts_and_shows_progress(tmp_path: Path, sample_video: Path) -> None:
    out = tmp_path / "out"
    result = run_kadr(
        "process",
        str(sample_video),
        "--profile",
        "transcript-only",
        "--out",
        str(out),
        data_dir=tmp_path / "var",
    )
    assert result.returncode == 0, result.stderr
    assert "transcribe" in result.stderr and "100.0%" in result.stderr, "Rich progress bars are shown"
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["segments"]
    assert len(pysubs2.load(str(out / "subtitles" / "subtitles.srt"))) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["name"] for a in manifest["artifacts"]} >= {"transcript.json", "subtitles/subtitles.srt"}

    again = run_kadr(
        "process",
        str(sample_video),
        "--profile",
        "transcript-only",
        "--out",
        str(tmp_path / "again"),
        data_dir=tmp_path / "var",
    )
    assert again.returncode == 0, again.stderr
    assert "from cache" in again.stderr
    assert (tmp_path / "again" / "transcript.json").read_bytes() == (out / "transcript.json").read_bytes()


def test_process_rejects_a_file_that_is_not_media(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    result = run_kadr("process", str(notes), "--out", str(tmp_path / "out"), data_dir=tmp_path / "var")
    assert result.returncode == 1
    assert "not" in result.stderr.lower() and "Traceback" not in result.stderr


def test_process_rejects_an_unknown_profile(tmp_path: Path, sample_video: Path) -> None:
    result = run_kadr(
        "process",
        str(sample_video),
        "--profile",
        "nope",
        "--out",
        str(tmp_path / "o"),
        data_dir=tmp_path / "var",
    )
    assert result.returncode == 1
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_migrate_and_user_create(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert run_kadr("migrate", data_dir=data_dir).returncode == 0
    created = subprocess.run(
        kadr_command("user", "create", "ops@example.com", "--password", "a-long-enough-password", "--admin"),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert "created user ops@example.com" in created.stderr
    duplicate = subprocess.run(
        kadr_command("user", "create", "ops@example.com", "--password", "a-long-enough-password"),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert duplicate.returncode == 1
    assert "Traceback" not in duplicate.stderr
    granted = subprocess.run(
        kadr_command("admin", "grant", "OPS@example.com"),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert granted.returncode == 0 and "is now an administrator" in granted.stderr, granted.stderr
    unknown = subprocess.run(
        kadr_command("admin", "grant", "nobody@example.com"),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1 and "no user" in unknown.stderr and "Traceback" not in unknown.stderr
