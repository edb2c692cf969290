"""A crash at any instant loses no work: SIGKILL the whole `kadr up` process while it is
transcribing, start it again, and the run completes without redoing finished components."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.api import PASSWORD
from tests.support.process import kadr_up

pytestmark = pytest.mark.slow

SETTINGS = {
    "job_lease_seconds": 3,
    "job_heartbeat_seconds": 0.5,
    "scheduler_interval_seconds": 0.5,
    "secret_key": "recovery-test-secret-0123456789abcdef0123",
    "log_level": "INFO",
}


def _login(client: httpx.Client, email: str, *, register: bool) -> dict[str, str]:
    if register:
        assert (
            client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        )
    response = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_killed_mid_transcription_the_run_resumes_without_redoing_finished_components(
    tmp_path: Path, sample_video: Path
) -> None:
    data_dir = tmp_path / "var"
    log = tmp_path / "kadr.log"
    with (
        kadr_up(data_dir, log, **SETTINGS) as (base_url, process),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        headers = _login(client, "crash@example.com", register=True)
        with sample_video.open("rb") as handle:
            video = client.post("/v1/videos", headers=headers, files={"file": ("talk.mp4", handle)}).json()
        run = client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
        ).json()
        deadline = time.monotonic() + 60
        while True:
            state = client.get(f"/v1/runs/{run['id']}", headers=headers).json()
            transcribe = next(c for c in state["components"] if c["name"] == "transcribe")
            if transcribe["status"] == "running":
                break
            assert transcribe["status"] == "pending", f"transcription finished before the kill: {state}"
            assert time.monotonic() < deadline, state
            time.sleep(0.02)
        process.kill()

    with (
        kadr_up(data_dir, log, **SETTINGS) as (base_url, process),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        headers = _login(client, "crash@example.com", register=False)
        deadline = time.monotonic() + 180
        while True:
            state = client.get(f"/v1/runs/{run['id']}", headers=headers).json()
            if state["status"] in ("succeeded", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, f"{state}\n{process.output()}"
            time.sleep(0.2)

    assert state["status"] == "succeeded", f"{state}\n{log.read_text()[-3000:]}"
    attempts = {c["name"]: c["attempts"] for c in state["components"]}
    assert attempts == {"probe": 1, "audio": 1, "transcribe": 2, "subtitles": 1}, attempts
