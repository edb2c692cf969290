"""The core promise, end to end on the embedded default: register, upload the sample talk,
run the `default` profile, and get a transcript, highlights, captioned clips, subtitles,
thumbnails and a manifest — then the same run again, answered from cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
import pysubs2
import pytest

from kadr.config import Settings
from tests.conftest import DATA_DIR
from tests.support.api import register, upload, wait_for_run

pytestmark = pytest.mark.slow


@dataclass
class Scenario:
    video: dict[str, Any]
    run: dict[str, Any]
    run_location: str
    run_status_code: int
    artifacts: list[dict[str, Any]]
    files: dict[str, Path]
    manifest: dict[str, Any]
    cached_status_code: int = 0
    cached_run: dict[str, Any] = field(default_factory=dict)
    cached_artifacts: list[dict[str, Any]] = field(default_factory=list)
    progress_seen: list[float] = field(default_factory=list)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def _play(settings: Settings, downloads: Path) -> Scenario:
    from kadr.app import create_app
    from kadr.core.db import dispose_database
    from kadr.migrations.runner import upgrade_database

    await upgrade_database(settings)
    app = create_app(settings, run_worker=True, run_scheduler=True)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            headers = await register(client, "creator@example.com")
            response = await upload(client, headers, DATA_DIR / "talk.mp4")
            assert response.status_code == 201, response.text
            video = response.json()

            response = await client.post("/v1/runs", headers=headers, json={"video_id": video["id"]})
            assert response.status_code == 202, response.text
            run_id = response.json()["id"]
            progress_seen: list[float] = []
            while True:
                polled = (await client.get(f"/v1/runs/{run_id}", headers=headers)).json()
                progress_seen.append(polled["progress"])
                if polled["status"] in ("succeeded", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.2)
            run = await wait_for_run(client, headers, run_id)

            listed = await client.get(f"/v1/runs/{run_id}/artifacts", headers=headers)
            assert listed.status_code == 200, listed.text
            files: dict[str, Path] = {}
            for artifact in listed.json():
                # The download link is signed: it works without the Authorization header.
                got = await client.get(_path_of(artifact["download_url"]))
                assert got.status_code == 200, (artifact["name"], got.text)
                target = downloads / artifact["name"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(got.content)
                files[artifact["name"]] = target
            manifest = (await client.get(f"/v1/runs/{run_id}/manifest", headers=headers)).json()

            scenario = Scenario(
                video=video,
                run=run,
                run_location=response.headers["Location"],
                run_status_code=response.status_code,
                artifacts=listed.json(),
                files=files,
                manifest=manifest,
                progress_seen=progress_seen,
            )
            again = await client.post("/v1/runs", headers=headers, json={"video_id": video["id"]})
            scenario.cached_status_code = again.status_code
            scenario.cached_run = again.json()
            scenario.cached_artifacts = (
                await client.get(f"/v1/runs/{again.json()['id']}/artifacts", headers=headers)
            ).json()
            return scenario
    finally:
        await dispose_database()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        data_dir=root / "var",
        secret_key="e2e-secret-key-0123456789abcdef0123456789",  # type: ignore[arg-type]
        job_heartbeat_seconds=0.5,
        scheduler_interval_seconds=1.0,
        log_level="WARNING",
    )
    downloads = root / "downloads"
    return asyncio.run(_play(settings, downloads))


def test_run_succeeds_with_every_component(scenario: Scenario) -> None:
    run = scenario.run
    assert run["status"] == "succeeded", run
    assert scenario.run_location == f"/v1/runs/{run['id']}"
    assert run["progress"] == 100.0
    names = [c["name"] for c in run["components"]]
    assert names == ["probe", "audio", "transcribe", "highlights", "clips", "subtitles", "thumbnails"]
    for component in run["components"]:
        assert component["status"] == "succeeded", component
        assert component["duration_seconds"] is not None and component["duration_seconds"] >= 0
        assert component["attempts"] == 1
    assert scenario.progress_seen == sorted(scenario.progress_seen), "progress never goes backwards"
    assert len(run["config_hash"]) == 64


def test_transcript_contains_the_spoken_words(scenario: Scenario) -> None:
    transcript = json.loads(scenario.files["transcript.json"].read_text())
    spoken = set(re.findall(r"[a-z']+", (DATA_DIR / "talk.txt").read_text().lower()))
    heard = set(re.findall(r"[a-z']+", transcript["text"].lower()))
    distinctive = {w for w in spoken if len(w) >= 6}
    assert len(distinctive & heard) / len(distinctive) > 0.6, sorted(distinctive - heard)
    assert transcript["segments"] and transcript["segments"][0]["words"]


def test_clips_are_playable_mp4s_of_the_highlight_duration(scenario: Scenario) -> None:
    index = json.loads(scenario.files["clips/clips.json"].read_text())
    assert index, "the default profile cuts clips"
    assert {entry["aspect"] for entry in index} == {"9:16", "16:9"}
    for entry in index:
        path = scenario.files[entry["name"]]
        with av.open(str(path)) as container:
            assert container.format.name.startswith("mov,mp4")
            video = container.streams.video[0]
            assert (video.width, video.height) == (
                (1080, 1920) if entry["aspect"] == "9:16" else (1920, 1080)
            )
            assert container.streams.audio, f"{entry['name']} has no audio track"
            assert container.duration is not None
            duration = container.duration / 1_000_000
        assert abs(duration - (entry["end"] - entry["start"])) <= 0.5, (entry, duration)


def test_highlights_are_ranked_moments_with_reasons(scenario: Scenario) -> None:
    highlights = json.loads(scenario.files["highlights.json"].read_text())["highlights"]
    assert highlights
    scores = [h["score"] for h in highlights]
    assert scores == sorted(scores, reverse=True)
    for highlight in highlights:
        assert 0 <= highlight["start"] < highlight["end"] <= scenario.video["duration_seconds"] + 0.5
        assert highlight["title"] and highlight["reason"]


def test_subtitles_parse_as_srt_and_vtt(scenario: Scenario) -> None:
    srt = pysubs2.load(str(scenario.files["subtitles/subtitles.srt"]))
    vtt = pysubs2.load(str(scenario.files["subtitles/subtitles.vtt"]))
    assert len(srt) > 3 and len(vtt) == len(srt)
    assert all(event.end > event.start for event in srt)


def test_thumbnails_are_images(scenario: Scenario) -> None:
    thumbs = [name for name in scenario.files if name.startswith("thumbnails/")]
    assert thumbs
    for name in thumbs:
        assert scenario.files[name].read_bytes()[:3] == b"\xff\xd8\xff", f"{name} is not a JPEG"


def test_manifest_lists_every_artifact_with_its_sha256(scenario: Scenario) -> None:
    manifest = scenario.manifest
    assert manifest["run_id"] == scenario.run["id"]
    assert manifest["status"] == "succeeded"
    assert manifest["source"]["sha256"] == scenario.video["sha256"]
    listed = {a["name"]: a["sha256"] for a in manifest["artifacts"]}
    assert set(listed) == {a["name"] for a in scenario.artifacts}
    for name, digest in listed.items():
        assert hashlib.sha256(scenario.files[name].read_bytes()).hexdigest() == digest, name


def test_the_same_run_again_is_answered_from_cache_without_any_work(scenario: Scenario) -> None:
    # The latency of this answer is measured by bench/pipeline.py, not asserted here.
    assert scenario.cached_status_code == 201
    cached = scenario.cached_run
    assert cached["status"] == "succeeded", "finished in the response itself: nothing was queued"
    assert cached["job_id"] is None
    assert cached["cached_from_run_id"] == scenario.run["id"]
    assert cached["id"] != scenario.run["id"]
    assert {c["status"] for c in cached["components"]} == {"cached"}
    original = {a["name"]: a["sha256"] for a in scenario.artifacts}
    assert {a["name"]: a["sha256"] for a in scenario.cached_artifacts} == original
