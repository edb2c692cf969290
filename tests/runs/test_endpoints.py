"""Runs over HTTP: create (202 + Location), follow, cancel, artifacts and downloads, isolation."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from kadr.media.apertium import apertium_pairs
from tests.conftest import DATA_DIR
from tests.support.api import assert_problem, register, upload, wait_for_run
from tests.support.media import make_video

pytestmark = pytest.mark.anyio


@pytest.fixture
async def short_video(api: httpx.AsyncClient, tmp_path: Path) -> tuple[dict[str, str], str]:
    headers = await register(api, "runner@example.com")
    response = await upload(api, headers, make_video(tmp_path / "v.mp4", 4))
    return headers, response.json()["id"]


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_create_follow_and_download(
    api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]
) -> None:
    headers, video_id = short_video
    created = await api.post(
        "/v1/runs", headers={**headers, "Idempotency-Key": "k-1"},
        json={"video_id": video_id, "profile": "transcript-only"},
    )  # fmt: skip
    assert created.status_code == 202 and created.headers["Location"] == f"/v1/runs/{created.json()['id']}"
    again = await api.post(
        "/v1/runs", headers={**headers, "Idempotency-Key": "k-1"},
        json={"video_id": video_id, "profile": "transcript-only"},
    )  # fmt: skip
    assert again.json()["id"] == created.json()["id"], "the same Idempotency-Key creates no second run"
    run = await wait_for_run(api, headers, created.json()["id"])
    assert run["status"] == "succeeded"
    listed = (await api.get(f"/v1/runs?video_id={video_id}", headers=headers)).json()
    assert listed["total"] == 1
    artifacts = (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    probe = next(a for a in artifacts if a["name"] == "probe.json")
    # With the signed link (no headers), with credentials, and refused to anyone else.
    assert (await api.get(_relative(probe["download_url"]))).json()["has_video"] is True
    direct = await api.get(f"/v1/artifacts/{probe['id']}/content", headers=headers)
    assert direct.status_code == 200 and direct.headers["content-type"].startswith("application/json")
    stranger = await register(api, "stranger@example.com")
    assert_problem(await api.get(f"/v1/artifacts/{probe['id']}/content", headers=stranger), 404)
    assert_problem(await api.get(f"/v1/runs/{run['id']}/artifacts", headers=stranger), 404)
    assert_problem(await api.get(f"/v1/runs/{run['id']}", headers=stranger), 404)
    assert_problem(await api.get(f"/v1/artifacts/{probe['id']}/content?token=forged"), 403)
    forged_for_other = _relative(probe["download_url"]).replace(probe["id"], artifacts[-1]["id"])
    assert_problem(await api.get(forged_for_other), 403)


async def test_an_empty_idempotency_key_is_no_key(
    api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]
) -> None:
    headers, video_id = short_video
    body = {"video_id": video_id, "profile": "transcript-only", "use_cache": False}
    answers = [
        await api.post("/v1/runs", headers={**headers, "Idempotency-Key": key}, json=body)
        for key in ("", " ")
    ]
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[0].json()["id"] != answers[1].json()["id"], "no key: two requests are two runs"


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]
) -> None:
    headers, video_id = short_video
    keyed = {**headers, "Idempotency-Key": "run-key"}
    first = await api.post(
        "/v1/runs", headers=keyed, json={"video_id": video_id, "profile": "transcript-only"}
    )
    assert first.status_code == 202, first.text
    other_profile = await api.post(
        "/v1/runs", headers=keyed, json={"video_id": video_id, "profile": "default"}
    )
    problem = assert_problem(other_profile, 422, "idempotency-key-reused")
    assert problem["idempotency_key"] == "run-key"
    other_params = await api.post(
        "/v1/runs",
        headers=keyed,
        json={"video_id": video_id, "profile": "transcript-only", "params": {"transcribe": {"beam_size": 2}}},
    )
    assert_problem(other_params, 422, "idempotency-key-reused")
    same = await api.post(
        "/v1/runs", headers=keyed, json={"video_id": video_id, "profile": "transcript-only"}
    )
    assert same.json()["id"] == first.json()["id"]
    listed = (await api.get(f"/v1/runs?video_id={video_id}", headers=headers)).json()
    assert listed["total"] == 1, "a refused reuse creates nothing"


async def test_cancel_a_running_run(api: httpx.AsyncClient, tmp_path: Path) -> None:
    headers = await register(api, "cancel@example.com")
    long_video = (await upload(api, headers, make_video(tmp_path / "long.mp4", 90, size="1280x720"))).json()
    created = (
        await api.post(
            "/v1/runs",
            headers=headers,
            json={"video_id": long_video["id"], "params": {"clips": {"count": 5}}},
        )
    ).json()
    for _ in range(600):
        state = (await api.get(f"/v1/runs/{created['id']}", headers=headers)).json()
        if state["status"] == "running":
            break
        await asyncio.sleep(0.05)
    cancelled = await api.post(f"/v1/runs/{created['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await asyncio.sleep(2)
    final = (await api.get(f"/v1/runs/{created['id']}", headers=headers)).json()
    assert final["status"] == "cancelled"
    assert all(c["status"] != "running" for c in final["components"]), final["components"]
    assert_problem(await api.post(f"/v1/runs/{created['id']}/cancel", headers=headers), 409)


async def test_bad_run_requests_get_reasons(
    api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]
) -> None:
    headers, video_id = short_video
    assert_problem(await api.post("/v1/runs", headers=headers, json={"video_id": "vid_nope"}), 404)
    body = assert_problem(
        await api.post("/v1/runs", headers=headers, json={"video_id": video_id, "profile": "nope"}), 404
    )
    assert "nope" in body["detail"]
    body = assert_problem(
        await api.post(
            "/v1/runs", headers=headers, json={"video_id": video_id, "params": {"clips": {"fps": 60}}}
        ),
        422,
    )
    assert "fps" in body["detail"]
    assert_problem(await api.post("/v1/runs", headers=headers, json={"profile": "default"}), 422)


async def test_user_profiles(api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]) -> None:
    headers, video_id = short_video
    created = await api.post(
        "/v1/profiles",
        headers=headers,
        json={"name": "subs", "components": {"subtitles": {"max_line_chars": 32}}},
    )
    assert created.status_code == 201, created.text
    names = [p["name"] for p in (await api.get("/v1/profiles", headers=headers)).json()]
    assert names == ["default", "clips-vertical", "transcript-only", "clips-ai", "translate", "dub", "subs"]
    run = (await api.post("/v1/runs", headers=headers, json={"video_id": video_id, "profile": "subs"})).json()
    assert list(run["config"]) == ["probe", "audio", "transcribe", "subtitles"]
    assert run["config"]["subtitles"]["max_line_chars"] == 32
    # What a form needs to offer every parameter: the plan a run would get, defaults filled in,
    # without what components derive from settings (it cannot be set).
    subs = (await api.get("/v1/profiles/subs", headers=headers)).json()
    assert subs["components"] == {"subtitles": {"max_line_chars": 32}}
    assert list(subs["parameters"]) == list(run["config"])
    assert subs["parameters"]["subtitles"] == run["config"]["subtitles"]
    assert "engine" in run["config"]["transcribe"] and "engine" not in subs["parameters"]["transcribe"]
    assert subs["parameters"]["transcribe"]["model"] == run["config"]["transcribe"]["model"]
    # Every value offered can be sent back as a run's params.
    again = await api.post(
        "/v1/runs",
        headers=headers,
        json={"video_id": video_id, "profile": "subs", "params": subs["parameters"], "use_cache": False},
    )
    assert again.status_code == 202, again.text
    assert again.json()["config_hash"] == run["config_hash"]
    other = await register(api, "other-profile@example.com")
    assert_problem(await api.get("/v1/profiles/subs", headers=other), 404)


async def test_a_translation_is_a_run_with_its_results_named(api: httpx.AsyncClient) -> None:
    if ("en", "es") not in apertium_pairs():
        reason = "Apertium's en-es pair is not installed (make test installs apertium apertium-en-es)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    headers = await register(api, "translator@example.com")
    video_id = (await upload(api, headers, DATA_DIR / "talk.mp4")).json()["id"]
    wanted = {"video_id": video_id, "languages": ["es"], "engine": "apertium", "dub": True}
    created = await api.post("/v1/translations", headers=headers, json=wanted)
    assert created.status_code == 202, created.text
    body = created.json()
    assert (
        created.headers["Location"] == f"/v1/runs/{body['run']['id']}"
        and body["run"]["profile_name"] == "dub"
    )
    assert body["results"] == {
        "es": ["translations/es/subtitles.srt", "translations/es/subtitles.vtt", "dub/es.mp4", "dub/es.wav"]
    }
    run = await wait_for_run(api, headers, body["run"]["id"], timeout=240)
    assert run["status"] == "succeeded", run
    artifacts = {
        a["name"] for a in (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    }
    assert set(body["results"]["es"]) <= artifacts, "every result the answer named was written"
    refused = assert_problem(
        await api.post("/v1/translations", headers=headers, json={**wanted, "languages": ["ja"]}), 422
    )
    assert "ja" in refused["detail"] and "es" in refused["detail"], "the reason lists what it can do"
    stranger = await register(api, "not-the-owner@example.com")
    assert_problem(await api.post("/v1/translations", headers=stranger, json=wanted), 404)


async def _artifacts(
    api: httpx.AsyncClient, headers: dict[str, str], run_id: str
) -> dict[str, dict[str, Any]]:
    listed = await api.get(f"/v1/runs/{run_id}/artifacts", headers=headers)
    assert listed.status_code == 200, listed.text
    return {a["name"]: a for a in listed.json()}


async def _text(api: httpx.AsyncClient, artifact: dict[str, Any]) -> str:
    return (await api.get(_relative(artifact["download_url"]))).text


async def _revise(
    api: httpx.AsyncClient, headers: dict[str, str], run_id: str, **edits: Any
) -> dict[str, Any]:
    created = await api.post(f"/v1/runs/{run_id}/revisions", headers=headers, json=edits)
    assert created.status_code == 202, created.text
    assert created.headers["Location"] == f"/v1/runs/{created.json()['id']}"
    assert created.json()["parent_run_id"] == run_id
    run = await wait_for_run(api, headers, created.json()["id"])
    assert run["status"] == "succeeded", run
    return run


async def _storage_keys(api: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> dict[str, str]:
    """Where each artifact's bytes are stored, as the run's manifest records it."""
    manifest = (await api.get(f"/v1/runs/{run_id}/manifest", headers=headers)).json()
    return {a["name"]: a["storage_key"] for a in manifest["artifacts"]}


async def _edits_that_cannot_be_are_refused_with_reasons(
    api: httpx.AsyncClient, headers: dict[str, str], run_id: str, video: dict[str, Any]
) -> None:
    url = f"/v1/runs/{run_id}/revisions"
    refusals = {
        "there is no segment 999": {"segments": [{"index": 999, "text": "x"}]},
        "the text is empty": {"segments": [{"index": 0, "text": "   "}]},
        "there is no highlight 7": {"highlights": [{"index": 7, "start": 1, "end": 2}]},
        "start must come before end": {"highlights": [{"index": 0, "start": 5, "end": 4}]},
        "within the video": {"highlights": [{"index": 0, "start": 1, "end": video["duration_seconds"] + 5}]},
        "nothing to revise": {},
    }
    for reason, body in refusals.items():
        problem = assert_problem(await api.post(url, headers=headers, json=body), 422, "validation-failed")
        assert reason in problem["detail"], (reason, problem)
    malformed = await api.post(
        url, headers=headers, json={"highlights": [{"index": -1, "start": 0, "end": 1}]}
    )
    assert "index" in assert_problem(malformed, 422)["detail"]
    stranger = await register(api, "not-the-reviser@example.com")
    assert_problem(await api.post(url, headers=stranger, json={"segments": [{"index": 0, "text": "x"}]}), 404)
    listed = (await api.get("/v1/runs", headers=headers)).json()
    assert listed["total"] == 1, "a refused revision creates no run"


async def test_only_a_run_that_succeeded_can_be_revised(
    api: httpx.AsyncClient, short_video: tuple[dict[str, str], str]
) -> None:
    headers, video_id = short_video
    run = (await api.post("/v1/runs", headers=headers, json={"video_id": video_id})).json()
    await api.post(f"/v1/runs/{run['id']}/cancel", headers=headers)
    refused = await api.post(
        f"/v1/runs/{run['id']}/revisions", headers=headers, json={"segments": [{"index": 0, "text": "x"}]}
    )
    assert "cancelled" in assert_problem(refused, 409)["detail"]


async def test_a_caption_fix_re_renders_only_the_clip_it_touches(
    api: httpx.AsyncClient, sample_video: Path
) -> None:
    headers = await register(api, "reviser@example.com")
    video = (await upload(api, headers, sample_video)).json()
    params = {"clips": {"count": 2, "aspects": ["9:16"], "resolution": "source", "preset": "ultrafast"}}
    created = await api.post("/v1/runs", headers=headers, json={"video_id": video["id"], "params": params})
    original = await wait_for_run(api, headers, created.json()["id"])
    assert original["status"] == "succeeded", original
    before = await _artifacts(api, headers, original["id"])
    transcript = json.loads(await _text(api, before["transcript.json"]))
    clips = json.loads(await _text(api, before["clips/clips.json"]))
    first, second = clips
    # A segment spoken inside the first clip only.
    index = next(
        i
        for i, s in enumerate(transcript["segments"])
        if first["start"] <= s["start"] < first["end"] and not second["start"] <= s["start"] < second["end"]
    )
    fixed = "Kadr fixed this caption by hand"
    await _edits_that_cannot_be_are_refused_with_reasons(api, headers, original["id"], video)

    revised = await _revise(api, headers, original["id"], segments=[{"index": index, "text": fixed}])
    states = {c["name"]: c["status"] for c in revised["components"]}
    assert states["transcribe"] == "edited", "the transcript is edited, never transcribed again"
    assert {states[n] for n in ("probe", "audio", "highlights", "thumbnails")} == {"cached"}
    assert states["subtitles"] == states["clips"] == "succeeded"
    assert next(c for c in revised["components"] if c["name"] == "transcribe")["attempts"] == 0
    after = await _artifacts(api, headers, revised["id"])
    assert set(after) == set(before)
    edited = json.loads(await _text(api, after["transcript.json"]))
    assert edited["segments"][index]["text"] == fixed
    assert " ".join(w["word"].strip() for w in edited["segments"][index]["words"]) == fixed
    assert fixed.split()[0] in await _text(api, after["subtitles/subtitles.srt"])
    # The clip that shows the segment is rendered again with the fixed caption…
    assert "fixed this" in (await _text(api, after[first["captions"]])).replace("\\N", " ")
    assert after[first["name"]]["sha256"] != before[first["name"]]["sha256"]
    # …the other is the very same file: same sha256, same stored object, never encoded again.
    untouched = second["name"]
    assert after[untouched]["sha256"] == before[untouched]["sha256"]
    keys_before = await _storage_keys(api, headers, original["id"])
    keys_after = await _storage_keys(api, headers, revised["id"])
    assert keys_after[untouched] == keys_before[untouched] == f"runs/{original['id']}/{untouched}"
    assert keys_after[first["name"]] == f"runs/{revised['id']}/{first['name']}"
    assert keys_after["probe.json"] == keys_before["probe.json"], "what no edit touches is carried over"
    clips_component = next(c for c in revised["components"] if c["name"] == "clips")
    assert clips_component["summary"]["clips_kept"] == 2  # the untouched clip and its captions

    # A highlight moved: only its clip is cut again, to the new span.
    start, end = second["start"] + 0.5, second["end"] - 0.5
    moved = await _revise(api, headers, revised["id"], highlights=[{"index": 1, "start": start, "end": end}])
    states = {c["name"]: c["status"] for c in moved["components"]}
    assert (
        states["highlights"] == "edited"
        and states["subtitles"] == "cached"
        and states["clips"] == "succeeded"
    )
    final = await _artifacts(api, headers, moved["id"])
    listing = json.loads(await _text(api, final["clips/clips.json"]))
    assert abs(listing[1]["duration"] - (end - start)) < 0.01
    assert final[first["name"]]["sha256"] == after[first["name"]]["sha256"]
    assert final[untouched]["sha256"] != after[untouched]["sha256"]
    with_edit = json.loads(await _text(api, final["transcript.json"]))
    assert with_edit["segments"][index]["text"] == fixed, "a revision of a revision keeps the first fix"
