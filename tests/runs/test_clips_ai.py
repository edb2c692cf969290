"""The clips-ai profile end to end through the API, real ffmpeg and real Whisper on the sample
talk, the language model played by the OpenAI stand-in: the model chooses the highlights and
writes each clip's texts; every call is recorded for the run's owner; a model that stays wrong
fails the run with its reason; one that is down is retried by the job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.llm.engines.local import runtime_available
from kadr.llm.models import LLMCallRecord
from tests.conftest import DATA_DIR
from tests.support.api import register, upload, wait_for_run
from tests.support.openai_server import Failure, OpenAIServer
from tests.support.pipeline_llm import pipeline_answer, ranking

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

#: Small, fast clips: what is checked here is the model's part, not the encoder's.
QUICK_CLIPS = {"count": 2, "aspects": ["9:16"], "resolution": "source", "preset": "ultrafast"}


@pytest.fixture
def llm_settings(openai_server: OpenAIServer) -> dict[str, Any]:
    """The gateway on the stand-in; a model that is down fails fast (no engine-level retries).
    A test parametrizes `llm_settings` to run on another engine."""
    openai_server.answer = pipeline_answer
    return {**openai_server.settings(), "llm_max_retries": 0}


@pytest.fixture
def settings(settings: Settings, llm_settings: dict[str, Any]) -> Settings:
    return Settings(**{**settings.model_dump(), **llm_settings})


async def _start(api: httpx.AsyncClient, email: str, **body: Any) -> tuple[dict[str, str], dict[str, Any]]:
    headers = await register(api, email)
    video = await upload(api, headers, DATA_DIR / "talk.mp4")
    assert video.status_code == 201, video.text
    created = await api.post("/v1/runs", headers=headers, json={"video_id": video.json()["id"], **body})
    assert created.status_code == 202, created.text
    return headers, await wait_for_run(api, headers, created.json()["id"])


async def _calls(settings: Settings, run_id: str) -> Sequence[LLMCallRecord]:
    async with get_database(settings).session() as session:
        query = select(LLMCallRecord).where(LLMCallRecord.subject_id == run_id)
        return (await session.scalars(query.order_by(LLMCallRecord.created_at))).all()


async def _artifact_json(api: httpx.AsyncClient, headers: dict[str, str], run_id: str, name: str) -> Any:
    artifacts = (await api.get(f"/v1/runs/{run_id}/artifacts", headers=headers)).json()
    artifact = next(a for a in artifacts if a["name"] == name)
    return json.loads((await api.get(f"/v1/artifacts/{artifact['id']}/content", headers=headers)).content)


async def test_clips_ai_the_model_chooses_and_describes_the_clips(
    api: httpx.AsyncClient, settings: Settings, openai_server: OpenAIServer
) -> None:
    headers, run = await _start(api, "ai@example.com", profile="clips-ai", params={"clips": QUICK_CLIPS})
    assert run["status"] == "succeeded", run
    assert run["config"]["highlights"]["llm"] == "openai:standin-1"
    components = {c["name"]: c for c in run["components"]}
    order = list(components)
    assert order.index("clips") < order.index("metadata")
    assert components["highlights"]["summary"]["llm"] == "openai:standin-1"

    highlights = (await _artifact_json(api, headers, run["id"], "highlights.json"))["highlights"]
    assert highlights and all(h["title"].startswith("Moment ") for h in highlights)
    metadata = await _artifact_json(api, headers, run["id"], "metadata.json")
    artifacts = {
        a["name"] for a in (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    }
    clip_names = [name for entry in metadata["clips"] for name in entry["clips"]]
    assert clip_names and set(clip_names) <= artifacts
    assert metadata["clips"][0]["title"] == f"Watch: {highlights[0]['title']}"
    assert metadata["video"]["title"] and metadata["language"] == "en"

    calls = await _calls(settings, run["id"])
    assert [c.purpose for c in calls] == ["highlights"] + ["metadata"] * (len(metadata["clips"]) + 1)
    assert {c.outcome for c in calls} == {"ok"} and all(c.tokens_in > 0 for c in calls)
    me = (await api.get("/v1/me", headers=headers)).json()
    assert {c.owner_id for c in calls} == {me["id"]}, "the tokens are the run owner's"

    asked = len(openai_server.requests)
    again = await api.post(
        "/v1/runs", headers=headers,
        json={"video_id": run["video_id"], "profile": "clips-ai", "params": {"clips": QUICK_CLIPS}},
    )  # fmt: skip
    assert again.json()["cached_from_run_id"] == run["id"], "the same model: answered from cache"
    assert len(openai_server.requests) == asked


async def test_a_model_that_stays_wrong_fails_the_run_with_its_reason(
    api: httpx.AsyncClient, settings: Settings, openai_server: OpenAIServer
) -> None:
    openai_server.answer = lambda body: ranking(body, [99])
    _, run = await _start(
        api, "wrong@example.com", profile="transcript-only", params={"highlights": {"engine": "llm"}}
    )
    assert run["status"] == "failed"
    assert "highlights:" in run["error"] and "99 is not a candidate" in run["error"]
    highlights = next(c for c in run["components"] if c["name"] == "highlights")
    assert highlights["status"] == "failed" and highlights["attempts"] == 1, "not retried"
    [call] = await _calls(settings, run["id"])
    assert call.outcome == "invalid" and call.attempts == settings.llm_repair_attempts + 1


async def test_a_model_that_is_down_is_retried_by_the_job(
    api: httpx.AsyncClient, settings: Settings, openai_server: OpenAIServer
) -> None:
    openai_server.then(Failure(503, "overloaded"))
    _, run = await _start(
        api, "down@example.com", profile="transcript-only", params={"highlights": {"engine": "llm"}}
    )
    assert run["status"] == "succeeded", run
    components = {c["name"]: c for c in run["components"]}
    assert components["highlights"]["attempts"] == 2
    assert components["transcribe"]["attempts"] == 1, "the retry starts at the failed component"
    assert [c.outcome for c in await _calls(settings, run["id"])] == ["unavailable", "ok"]


@pytest.mark.skipif(
    not runtime_available(),
    reason="llama-cpp-python (the embedded model's runtime) is not installed here yet; "
    "with it, this runs clips-ai on the embedded model",
)
@pytest.mark.parametrize("llm_settings", [{"llm_engine": "local"}])
async def test_clips_ai_with_the_embedded_model(api: httpx.AsyncClient, settings: Settings) -> None:
    _, run = await _start(
        api, "embedded@example.com", profile="clips-ai", params={"clips": {**QUICK_CLIPS, "count": 1}}
    )
    assert run["status"] == "succeeded", run
    assert run["config"]["highlights"]["llm"].startswith("local:")
    calls = await _calls(settings, run["id"])
    assert calls and all(c.engine == "local" and c.outcome in ("ok", "repaired") for c in calls)
