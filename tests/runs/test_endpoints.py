"""Runs over HTTP: create (202 + Location), follow, cancel, artifacts and downloads, isolation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
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
