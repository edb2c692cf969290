"""The services under the API: a re-cut from a processed video, the default language, progress
that only grows, and an edit that lost a race."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.errors import Conflict
from kadr.core.ids import new_id
from kadr.pipeline.orchestrator import artifact_key
from kadr.runs.models import Artifact, ComponentStatus, Run, RunComponent, RunStatus
from kadr.scenarios.generation import GenerationService
from kadr.scenarios.models import ScenarioStatus
from kadr.scenarios.repository import ScenarioRepository
from kadr.scenarios.schemas import ScenarioContent
from kadr.scenarios.service import ScenarioService
from kadr.storage import get_storage
from kadr.videos.models import Video
from tests.support.api import assert_problem, register
from tests.support.openai_server import OpenAIServer
from tests.support.scenarios import wait_for_scenario

pytestmark = pytest.mark.anyio

TRANSCRIPT = {
    "language": "en",
    "duration": 120.0,
    "model": "tiny.en",
    "text": "…",
    "segments": [
        {
            "id": i,
            "start": i * 10.0,
            "end": i * 10.0 + 9.5,
            "text": f"Sentence number {i} about cats.",
            "words": [],
        }
        for i in range(12)
    ],
}
HIGHLIGHTS = {
    "highlights": [
        {
            "rank": 1,
            "start": 20.0,
            "end": 45.0,
            "duration": 25.0,
            "score": 0.9,
            "title": "Cats",
            "reason": "a hook",
        }
    ]
}


async def processed_run(
    settings: Settings,
    owner_id: str,
    *,
    status: RunStatus = RunStatus.SUCCEEDED,
    language: str = "en",
    with_transcript: bool = True,
) -> str:
    """A run of a video as the pipeline leaves it: components recorded, artifacts stored."""
    storage = get_storage(settings)
    run_id, video_id = new_id("run"), new_id("vid")
    async with get_database(settings).session() as session:
        session.add(
            Video(
                id=video_id,
                owner_id=owner_id,
                filename="cats.mp4",
                content_type="video/mp4",
                size_bytes=1,
                sha256="c" * 64,
                storage_key=f"videos/{video_id}/source.mp4",
                duration_seconds=120.0,
                has_video=True,
                has_audio=True,
                media_info={},
                created_at=utcnow(),
            )
        )
        await session.flush()
        run = Run(
            id=run_id,
            owner_id=owner_id,
            video_id=video_id,
            content_sha256="c" * 64,
            profile_name="default",
            config={},
            config_hash="h" * 64,
            versions={},
            status=status,
            progress=100.0,
            created_at=utcnow(),
        )
        run.components = [
            RunComponent(
                name="transcribe",
                position=0,
                status=ComponentStatus.SUCCEEDED,
                summary={"language": language},
            )
        ]
        session.add(run)
        await session.flush()
        files: dict[str, Any] = {"highlights.json": HIGHLIGHTS}
        if with_transcript:
            files["transcript.json"] = {**TRANSCRIPT, "language": language}
        for name, content in files.items():
            data = json.dumps(content).encode()
            key = artifact_key(run_id, name)
            storage.put_bytes(key, data, "application/json")
            session.add(
                Artifact(
                    id=new_id("art"),
                    run_id=run_id,
                    owner_id=owner_id,
                    component="transcribe" if name.startswith("transcript") else "highlights",
                    name=name,
                    kind="json",
                    content_type="application/json",
                    storage_key=key,
                    size_bytes=len(data),
                    sha256="0" * 64,
                )
            )
        await session.commit()
    return run_id


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/v1/me", headers=headers)).json()["id"])


async def test_a_finished_run_is_recut_into_scenes_that_point_at_the_source(
    api: httpx.AsyncClient, settings: Settings, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "recut@example.com")
    run_id = await processed_run(settings, await user_id(api, headers), language="ru")
    response = await api.post(
        "/v1/scenarios/generate", headers=headers, json={"run_id": run_id, "duration_s": 30}
    )
    assert response.status_code == 202, response.text
    assert response.json()["source_run_id"] == run_id
    ready = await wait_for_scenario(api, headers, response.json()["id"])
    assert ready["status"] == "ready", ready["error"]
    assert ready["language"] == "ru", "the language the run's transcription heard"
    for scene in ready["scenes"]:
        assert scene["source_start"] is not None and scene["source_end"] > scene["source_start"]
        assert abs(scene["duration_s"] - (scene["source_end"] - scene["source_start"])) <= 0.5
    (request,) = openai_server.requests
    assert request.body["response_format"]["json_schema"]["name"] == "RecutDraft"
    prompt = request.body["messages"][1]["content"]
    assert "[20.0-29.5] Sentence number 2 about cats." in prompt
    assert "1. 20.0-45.0 s: Cats (a hook)" in prompt and "Source duration: 120.0 seconds" in prompt


async def test_a_recut_needs_a_finished_run_of_yours_with_a_transcript(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await register(api, "runs@example.com")
    other = await register(api, "other-runs@example.com")
    owner = await user_id(api, headers)
    running = await processed_run(settings, owner, status=RunStatus.RUNNING)
    untranscribed = await processed_run(settings, owner, with_transcript=False)
    theirs = await processed_run(settings, await user_id(api, other))

    async def generate(run_id: str) -> httpx.Response:
        return await api.post("/v1/scenarios/generate", headers=headers, json={"run_id": run_id})

    assert_problem(await generate(running), 409, "conflict")
    assert "transcript.json" in assert_problem(await generate(untranscribed), 422)["detail"]
    assert_problem(await generate(theirs), 404, "not-found")
    assert_problem(await api.post("/v1/scenarios/generate", headers=headers, json={}), 422)


async def test_what_names_no_language_is_written_in_the_users_own(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "lang@example.com")
    english = await api.post("/v1/scenarios/generate", headers=headers, json={"topic": "Tea"})
    assert english.json()["language"] == "en", "no language of their own: English"

    assert (await api.patch("/v1/me", headers=headers, json={"locale": "de-DE"})).status_code == 200
    german = await api.post("/v1/scenarios/generate", headers=headers, json={"topic": "Tee"})
    assert german.json()["language"] == "de" and german.json()["words_per_minute"] == 130

    assert (await api.patch("/v1/me", headers=headers, json={"default_language": "ru"})).status_code == 200
    russian = await api.post("/v1/scenarios/generate", headers=headers, json={"topic": "Чай"})
    assert russian.json()["language"] == "ru", "the chosen language wins over the locale's"
    written = await api.post(
        "/v1/scenarios",
        headers=headers,
        json={
            "title": "Чай",
            "target_duration_s": 5,
            "scenes": [{"n": 1, "duration_s": 5, "visual": "чайник", "shot": "крупно", "narration": "чай"}],
        },
    )
    assert written.status_code == 201, written.text
    assert written.json()["language"] == "ru" and written.json()["words_per_minute"] == 130
    for scenario_id in (english.json()["id"], german.json()["id"], russian.json()["id"]):
        await wait_for_scenario(api, headers, scenario_id)


async def _scenario(settings: Settings, email: str) -> tuple[str, str]:
    from kadr.accounts.service import create_user

    async with get_database(settings).session() as session:
        user = await create_user(session, email, "a-long-enough-password", settings=settings)
        content = ScenarioContent.model_validate(
            {
                "title": "Race",
                "target_duration_s": 10,
                "scenes": [
                    {"n": 1, "duration_s": 10, "visual": "a track", "shot": "wide", "narration": "go"}
                ],
            }
        )
        access = await ScenarioService(session, settings).create(user.id, content)
        return user.id, access.scenario.id


async def test_of_two_edits_from_the_same_version_the_later_is_refused(
    settings: Settings, database: None
) -> None:
    owner, scenario_id = await _scenario(settings, "race@example.com")
    database_ = get_database(settings)
    async with database_.session() as first, database_.session() as second:
        # Both read version 1 (each read ends its transaction: SQLite has one writer at a time).
        mine = (await ScenarioService(first, settings).access(owner, scenario_id)).scenario
        await first.commit()
        theirs = (await ScenarioService(second, settings).access(owner, scenario_id)).scenario
        await second.commit()
        values = {
            name: getattr(mine, name) for name in ("title", "logline", "platform", "aspect", "language")
        }
        values |= {
            "target_duration_s": 10,
            "words_per_minute": 150,
            "hook": "",
            "scenes": mine.scenes,
            "call_to_action": "",
        }
        await ScenarioService(first, settings).save_version(
            mine, {**values, "title": "Mine"}, "edited", owner
        )
        await first.commit()
        with pytest.raises(Conflict, match="changed while you edited"):
            await ScenarioService(second, settings).save_version(
                theirs, {**values, "title": "Theirs"}, "edited", owner
            )
    async with database_.session() as session:
        scenario = await ScenarioRepository(session).get(owner, scenario_id)
        assert scenario is not None and scenario.title == "Mine" and scenario.version == 2


async def test_progress_only_grows(settings: Settings, database: None) -> None:
    _, scenario_id = await _scenario(settings, "progress@example.com")
    async with get_database(settings).session() as session:
        repository = ScenarioRepository(session)
        await repository.update(scenario_id, status=ScenarioStatus.GENERATING, progress=0.0)
        await session.commit()
        service = GenerationService(session, settings)
        await service.record_progress(scenario_id, 0.5)
        await service.record_progress(scenario_id, 0.3)
        scenario = await repository.get_unscoped(scenario_id)
        assert scenario is not None and scenario.progress == 0.5
