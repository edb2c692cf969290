"""A clip published without its own texts goes out with the ones the run's `metadata`
component wrote for it: YouTube gets its title, description and tags, Telegram its caption.
What a request gives wins; without metadata, a title is required."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kadr.config import Settings
from tests.conftest import DATA_DIR
from tests.support.api import assert_problem, register, wait_for_run
from tests.support.google import FakeGoogle
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_llm import pipeline_answer
from tests.support.publishing import (
    add_telegram,
    connect_youtube,
    sent_videos,
    uploaded_video,
    wait_for_publication,
)
from tests.support.telegram import FakeTelegram

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def settings(settings: Settings, openai_server: OpenAIServer) -> Settings:
    """The publishing stand-ins (the package's `settings`) and the language model's."""
    openai_server.answer = pipeline_answer
    return Settings(**{**settings.model_dump(), **openai_server.settings()})


async def _publish(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/publications", headers=headers, json=body)
    assert response.status_code == 201, response.text
    publication = await wait_for_publication(api, headers, response.json()["id"])
    assert publication["status"] == "published", publication
    return publication


async def test_a_clip_goes_out_with_its_metadata_unless_the_request_gives_its_own(
    api: httpx.AsyncClient, fake_google: FakeGoogle, fake_telegram: FakeTelegram
) -> None:
    headers = await register(api, "meta@example.com")
    youtube = await connect_youtube(api, headers, fake_google)
    telegram = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, DATA_DIR / "talk.mp4")
    created = await api.post(
        "/v1/runs",
        headers=headers,
        json={
            "video_id": video["id"],
            "profile": "clips-ai",
            "params": {
                "clips": {"count": 1, "aspects": ["9:16"], "resolution": "source", "preset": "ultrafast"}
            },
        },
    )
    assert created.status_code == 202, created.text
    run = await wait_for_run(api, headers, created.json()["id"])
    assert run["status"] == "succeeded", run
    artifacts = (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    clip = next(a for a in artifacts if a["content_type"] == "video/mp4")
    document = next(a for a in artifacts if a["name"] == "metadata.json")
    [texts] = (await api.get(f"/v1/artifacts/{document['id']}/content", headers=headers)).json()["clips"]
    assert texts["clips"] == [clip["name"]]

    on_youtube = await _publish(api, headers, channel_id=youtube["id"], artifact_id=clip["id"])
    assert (on_youtube["title"], on_youtube["description"], on_youtube["tags"]) == (
        texts["title"],
        texts["description"],
        texts["tags"],
    )
    [uploaded] = fake_google.videos
    assert uploaded["snippet"]["title"] == texts["title"]
    assert uploaded["snippet"]["description"] == texts["description"]
    assert uploaded["snippet"]["tags"] == texts["tags"]

    await _publish(api, headers, channel_id=telegram["id"], artifact_id=clip["id"])
    await _publish(api, headers, channel_id=telegram["id"], artifact_id=clip["id"], title="Our own title")
    written, composed = sent_videos(fake_telegram)
    assert written["caption"] == texts["telegram_caption"]
    assert composed["caption"].startswith("Our own title\n\n" + texts["description"])

    without_metadata = await api.post(
        "/v1/publications", headers=headers, json={"channel_id": telegram["id"], "video_id": video["id"]}
    )
    problem = assert_problem(without_metadata, 422, "validation-failed")
    assert problem["field"] == "title" and "title is required" in problem["detail"]
