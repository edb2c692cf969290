"""Review before rendering: a run stops for a person after transcribe or translate, the person
edits the transcript or a translation (checked, text only), and what follows reads the edit."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from kadr.media.apertium import apertium_pairs
from tests.conftest import DATA_DIR
from tests.support.api import assert_problem, register, upload, wait_for_run

pytestmark = pytest.mark.anyio


async def _text(api: httpx.AsyncClient, headers: dict[str, str], run_id: str, name: str) -> str:
    artifacts = (await api.get(f"/v1/runs/{run_id}/artifacts", headers=headers)).json()
    (artifact,) = [a for a in artifacts if a["name"] == name]
    return (await api.get(f"/v1/artifacts/{artifact['id']}/content", headers=headers)).text


async def _awaiting(api: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    run = await wait_for_run(api, headers, run_id, timeout=240, until=("awaiting_review",))
    assert run["status"] == "awaiting_review", run
    return run


async def test_edits_in_review_are_what_the_rest_of_the_run_uses(api: httpx.AsyncClient) -> None:
    if ("en", "es") not in apertium_pairs():
        reason = "Apertium's en-es pair is not installed (make test installs apertium apertium-en-es)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    headers = await register(api, "reviewer@example.com")
    video_id = (await upload(api, headers, DATA_DIR / "talk.mp4")).json()["id"]
    wanted = {
        "video_id": video_id,
        "profile": "translate",
        "params": {"translate": {"languages": ["es"], "engine": "apertium"}},
        "review": ["translate", "transcribe"],
    }
    created = await api.post("/v1/runs", headers=headers, json=wanted)
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    assert created.json()["review"] == ["transcribe", "translate"], "in the order the run does them"

    # 1. It stops after transcribe; the person fixes the first segment's text.
    run = await _awaiting(api, headers, run_id)
    statuses = {c["name"]: c["status"] for c in run["components"]}
    assert statuses["transcribe"] == "succeeded" and statuses["subtitles"] == "pending"
    events = (await api.get("/v1/events?type=run.awaiting_review", headers=headers)).json()
    assert events["total"] == 1, "the owner hears the run waits for them"
    transcript = (await api.get(f"/v1/runs/{run_id}/artifacts", headers=headers)).json()
    original = await api.get(
        next(f"/v1/artifacts/{a['id']}/content" for a in transcript if a["name"] == "transcript.json"),
        headers=headers,
    )
    document = original.json()
    document["segments"][0]["text"] = "Hello kadr reviewers, this line was fixed by a person."
    edited = await api.put(f"/v1/runs/{run_id}/artifacts/transcript.json", headers=headers, json=document)
    assert edited.status_code == 200, edited.text
    assert {a["name"] for a in edited.json()} == {"transcript.json", "transcript.txt"}

    # Edits that would break what follows are refused with the reason, and change nothing.
    shorter = {**document, "segments": document["segments"][1:]}
    moved = {**document, "segments": [{**document["segments"][0], "start": 99.0}, *document["segments"][1:]]}
    emptied = {**document, "segments": [{**document["segments"][0], "text": " "}, *document["segments"][1:]]}
    for bad, reason in ((shorter, "the original has"), (moved, "must stay"), (emptied, "non-empty")):
        refused = assert_problem(
            await api.put(f"/v1/runs/{run_id}/artifacts/transcript.json", headers=headers, json=bad), 422
        )
        assert reason in refused["detail"], refused
    not_now = await api.put(f"/v1/runs/{run_id}/artifacts/probe.json", headers=headers, json={"duration": 1})
    assert "transcript.json" in assert_problem(not_now, 404)["detail"], "the reason names what can be edited"
    stranger = await register(api, "someone-else@example.com")
    assert_problem(
        await api.put(f"/v1/runs/{run_id}/artifacts/transcript.json", headers=stranger, json=document), 404
    )
    assert_problem(await api.post(f"/v1/runs/{run_id}/resume", headers=stranger), 404)

    resumed = await api.post(f"/v1/runs/{run_id}/resume", headers=headers)
    assert resumed.status_code == 200 and resumed.json()["reviewed"] == ["transcribe"], resumed.text
    assert_problem(await api.post(f"/v1/runs/{run_id}/resume", headers=headers), 409)

    # 2. It stops after translate: the subtitles were made from the fixed text.
    await _awaiting(api, headers, run_id)
    subtitles = await _text(api, headers, run_id, "subtitles/subtitles.srt")
    assert "Hello kadr reviewers, this line was fixed" in subtitles
    cues = (await api.get(f"/v1/runs/{run_id}/artifacts", headers=headers)).json()
    cues_id = next(a["id"] for a in cues if a["name"] == "translations/es/cues.json")
    translation = (await api.get(f"/v1/artifacts/{cues_id}/content", headers=headers)).json()
    assert len(translation["cues"]) > 1
    translation["cues"][0]["text"] = "Hola, equipo de kadr: esta línea la corrigió una persona."
    edited = await api.put(
        f"/v1/runs/{run_id}/artifacts/translations/es/cues.json", headers=headers, json=translation
    )
    assert edited.status_code == 200, edited.text
    changed = {a["name"]: a for a in edited.json()}
    assert set(changed) == {
        "translations/es/cues.json",
        "translations/es/subtitles.srt",
        "translations/es/subtitles.vtt",
    }, "the subtitles are written again from the edit"
    srt = await _text(api, headers, run_id, "translations/es/subtitles.srt")
    assert "Hola, equipo de kadr" in srt

    await api.post(f"/v1/runs/{run_id}/resume", headers=headers)
    run = await wait_for_run(api, headers, run_id, timeout=120)
    assert run["status"] == "succeeded", run
    assert run["reviewed"] == ["transcribe", "translate"]
    manifest = (await api.get(f"/v1/runs/{run_id}/manifest", headers=headers)).json()
    stored = {a["name"]: a["sha256"] for a in manifest["artifacts"]}
    assert stored["translations/es/cues.json"] == changed["translations/es/cues.json"]["sha256"]
    assert_problem(
        await api.put(f"/v1/runs/{run_id}/artifacts/transcript.json", headers=headers, json=document), 409
    )

    # A reviewed run is a person's work: the same run without review computes its own.
    again = await api.post("/v1/runs", headers=headers, json={**wanted, "review": []})
    assert again.status_code == 202 and again.json()["cached_from_run_id"] is None


async def test_review_names_components_that_can_stop(api: httpx.AsyncClient) -> None:
    headers = await register(api, "wrong-review@example.com")
    video_id = (await upload(api, headers, DATA_DIR / "talk.mp4")).json()["id"]
    wanted = {"video_id": video_id, "profile": "transcript-only", "review": ["clips"]}
    refused = assert_problem(await api.post("/v1/runs", headers=headers, json=wanted), 422)
    assert "cannot stop after clips" in refused["detail"] and "transcribe" in refused["detail"]


async def test_a_run_awaiting_review_can_be_cancelled(api: httpx.AsyncClient) -> None:
    headers = await register(api, "cancels-review@example.com")
    video_id = (await upload(api, headers, DATA_DIR / "talk.mp4")).json()["id"]
    wanted = {"video_id": video_id, "profile": "transcript-only", "review": ["transcribe"]}
    run_id = (await api.post("/v1/runs", headers=headers, json=wanted)).json()["id"]
    run = await _awaiting(api, headers, run_id)
    assert run["progress"] < 100
    cancelled = await api.post(f"/v1/runs/{run_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_problem(await api.post(f"/v1/runs/{run_id}/resume", headers=headers), 409)
