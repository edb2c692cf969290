"""Scenarios through the API: writing by hand, the timing check, versions, lists, and sharing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.scenarios.conftest import ClientWith
from tests.support.api import assert_problem, register
from tests.support.openai_server import OpenAIServer, Reply

pytestmark = pytest.mark.anyio


def scenes(*seconds: float, words: int = 5) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "duration_s": s,
            "visual": "a kitchen at dawn",
            "shot": "close-up",
            "narration": " ".join(["coffee"] * words),
            "on_screen_text": "",
        }
        for n, s in enumerate(seconds, 1)
    ]


def scenario(title: str = "Morning coffee", **changes: Any) -> dict[str, Any]:
    return {
        "title": title,
        "logline": "How to brew it in a minute.",
        "platform": "youtube_shorts",
        "language": "en",
        "target_duration_s": 30,
        "hook": "You are doing it wrong.",
        "scenes": scenes(10, 10, 10),
        "call_to_action": "Follow for more.",
        **changes,
    }


async def create(client: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/scenarios", headers=headers, json=scenario(**changes))
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v1/scenarios/{response.json()['id']}"
    body: dict[str, Any] = response.json()
    return body


async def share(
    client: httpx.AsyncClient, headers: dict[str, str], scenario_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/scenarios/{scenario_id}/share", headers=headers, json=body)
    assert response.status_code == 201, response.text
    shared: dict[str, Any] = response.json()
    return shared


async def test_a_scenario_written_by_hand_gets_its_defaults_and_version_1(client: httpx.AsyncClient) -> None:
    headers = await register(client, "writer@example.com")
    created = await create(client, headers, language="ru", title="Утренний кофе")
    assert created["status"] == "ready" and created["role"] == "owner" and created["version"] == 1
    assert created["aspect"] == "9:16", "YouTube Shorts are vertical"
    assert created["words_per_minute"] == 130, "Russian is read at 130 words a minute"
    fetched = (await client.get(f"/v1/scenarios/{created['id']}", headers=headers)).json()
    assert fetched["scenes"] == created["scenes"] and fetched["title"] == "Утренний кофе"
    versions = (await client.get(f"/v1/scenarios/{created['id']}/versions", headers=headers)).json()
    assert versions["total"] == 1 and versions["items"][0]["note"] == "created"

    unsaid = {key: value for key, value in scenario().items() if key != "language"}
    edited = await client.put(f"/v1/scenarios/{created['id']}", headers=headers, json=unsaid)
    assert edited.json()["language"] == "ru", "an edit that names no language keeps the scenario's"
    fresh = await client.post("/v1/scenarios", headers=headers, json=unsaid)
    assert fresh.json()["language"] == "en", "a user without a language of their own writes in English"


async def test_durations_that_do_not_add_up_are_refused_naming_the_scene(client: httpx.AsyncClient) -> None:
    headers = await register(client, "timing@example.com")
    response = await client.post("/v1/scenarios", headers=headers, json=scenario(scenes=scenes(10, 40, 10)))
    problem = assert_problem(response, 422, "validation-failed")
    assert "scene 2 is the longest" in problem["detail"] and "60 s in all" in problem["detail"]
    assert problem["problems"][0]["scene"] == 2

    wordy = scenes(10, 10, 10)
    wordy[2]["narration"] = " ".join(["word"] * 40)  # 10 s at 150 words a minute hold 25 (28 spoken fast)
    problem = assert_problem(
        await client.post("/v1/scenarios", headers=headers, json=scenario(scenes=wordy)), 422
    )
    assert "scene 3: its narration has 40 words" in problem["detail"]
    assert (await client.get("/v1/scenarios", headers=headers)).json()["total"] == 0

    created = await create(client, headers)
    problem = assert_problem(
        await client.put(
            f"/v1/scenarios/{created['id']}", headers=headers, json=scenario(scenes=scenes(10, 10, 1))
        ),
        422,
    )
    assert "scene 3 is the shortest" in problem["detail"]


async def test_schema_bounds_are_a_422_too(client: httpx.AsyncClient) -> None:
    headers = await register(client, "bounds@example.com")
    many = scenes(*([1] * 41))
    assert_problem(await client.post("/v1/scenarios", headers=headers, json=scenario(scenes=many)), 422)
    assert_problem(await client.post("/v1/scenarios", headers=headers, json=scenario(aspect="3:2")), 422)
    assert_problem(await client.post("/v1/scenarios", headers=headers, json=scenario(title="x" * 201)), 422)


async def test_every_edit_is_a_version_and_any_version_can_be_restored(client: httpx.AsyncClient) -> None:
    headers = await register(client, "versions@example.com")
    created = await create(client, headers)
    url = f"/v1/scenarios/{created['id']}"
    edited = await client.put(url, headers=headers, json=scenario("Better coffee", base_version=1))
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["title"] == "Better coffee"
    again = await client.put(url, headers=headers, json=scenario("Best coffee", scenes=scenes(15, 15)))
    assert again.json()["version"] == 3 and len(again.json()["scenes"]) == 2

    stale = await client.put(url, headers=headers, json=scenario("Mine", base_version=2))
    assert assert_problem(stale, 409, "conflict")["version"] == 3

    versions = (await client.get(f"{url}/versions", headers=headers)).json()
    assert [v["number"] for v in versions["items"]] == [3, 2, 1]
    assert versions["items"][2]["content"]["title"] == "Morning coffee"

    restored = await client.post(f"{url}/versions/1/restore", headers=headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 4 and restored.json()["title"] == "Morning coffee"
    assert len(restored.json()["scenes"]) == 3
    newest = (await client.get(f"{url}/versions?limit=1", headers=headers)).json()
    assert newest["total"] == 4 and newest["items"][0]["note"] == "restored version 1"
    assert_problem(await client.post(f"{url}/versions/9/restore", headers=headers), 404)


async def test_lists_filter_by_status_language_platform_and_title(client: httpx.AsyncClient) -> None:
    headers = await register(client, "lists@example.com")
    await create(client, headers, title="Утренний КОФЕ", language="ru")
    await create(client, headers, title="Evening tea", platform="tiktok")
    await create(client, headers, title="Coffee 100% arabica", platform="youtube", target_duration_s=30)

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/v1/scenarios?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles("") == ["Coffee 100% arabica", "Evening tea", "Утренний КОФЕ"]
    assert await titles("language=ru") == ["Утренний КОФЕ"]
    assert await titles("platform=tiktok") == ["Evening tea"]
    assert await titles("status=ready&limit=1&offset=1") == ["Evening tea"]
    assert await titles("status=failed") == []
    assert await titles("q=кофе") == ["Утренний КОФЕ"], "case-blind beyond ASCII"
    assert await titles("q=COFFEE") == ["Coffee 100% arabica"]
    assert await titles("q=0%25") == ["Coffee 100% arabica"], "% is a character, not a wildcard"
    assert_problem(await client.get("/v1/scenarios?status=lost", headers=headers), 422)


async def test_a_retried_create_with_the_same_key_makes_one_scenario(client: httpx.AsyncClient) -> None:
    headers = {**await register(client, "retry@example.com"), "Idempotency-Key": "create-1"}
    first = await client.post("/v1/scenarios", headers=headers, json=scenario())
    second = await client.post("/v1/scenarios", headers=headers, json=scenario())
    assert first.json()["id"] == second.json()["id"]
    other = await client.post("/v1/scenarios", headers=headers, json=scenario("Other"))
    assert_problem(other, 422, "idempotency-key-reused")


async def test_other_users_ids_are_not_found(client: httpx.AsyncClient) -> None:
    owner = await register(client, "owner@example.com")
    stranger = await register(client, "stranger@example.com")
    created = await create(client, owner)
    link = await share(client, owner, created["id"])
    url = f"/v1/scenarios/{created['id']}"
    for response in (
        await client.get(url, headers=stranger),
        await client.put(url, headers=stranger, json=scenario("Mine now")),
        await client.delete(url, headers=stranger),
        await client.get(f"{url}/versions", headers=stranger),
        await client.post(f"{url}/versions/1/restore", headers=stranger),
        await client.post(f"{url}/share", headers=stranger, json={}),
        await client.get(f"{url}/shares", headers=stranger),
        await client.delete(f"{url}/shares/{link['id']}", headers=stranger),
        await client.post(f"{url}/titles", headers=stranger, json={"n": 3}),
        await client.post(f"{url}/rewrite", headers=stranger, json={"scene": 1, "instruction": "shorter"}),
    ):
        assert_problem(response, 404, "not-found")
    assert (await client.get("/v1/scenarios", headers=stranger)).json()["total"] == 0
    assert (await client.get(url, headers=owner)).json()["version"] == 1


async def test_a_read_only_link_opens_without_login_until_revoked(client: httpx.AsyncClient) -> None:
    headers = await register(client, "linker@example.com")
    created = await create(client, headers)
    link = await share(client, headers, created["id"])
    assert link["kind"] == "link" and link["role"] == "viewer" and link["token"]
    assert link["url"].endswith(f"/v1/shared/scenarios/{link['token']}")
    opened = await client.get(f"/v1/shared/scenarios/{link['token']}")
    assert opened.status_code == 200, opened.text
    assert opened.json()["title"] == "Morning coffee" and len(opened.json()["scenes"]) == 3
    assert "owner_id" not in opened.json() and "id" not in opened.json()

    listed = (await client.get(f"/v1/scenarios/{created['id']}/shares", headers=headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["token"] is None, "the token is shown once"

    (event,) = (await client.get("/v1/events?type=scenario.shared", headers=headers)).json()["items"]
    assert event["data"]["share_id"] == link["id"] and event["data"]["kind"] == "link"
    assert link["token"] not in str(event), "the token is kept nowhere but in the answer"

    revoked = await client.delete(f"/v1/scenarios/{created['id']}/shares/{link['id']}", headers=headers)
    assert revoked.status_code == 204
    assert_problem(await client.get(f"/v1/shared/scenarios/{link['token']}"), 404)
    assert_problem(await client.get("/v1/shared/scenarios/not-a-token"), 404)
    listed = (await client.get(f"/v1/scenarios/{created['id']}/shares", headers=headers)).json()
    assert listed["items"][0]["revoked_at"] is not None


async def test_an_expired_link_is_not_found(client: httpx.AsyncClient) -> None:
    headers = await register(client, "expiry@example.com")
    created = await create(client, headers)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    url = f"/v1/scenarios/{created['id']}/share"
    assert_problem(await client.post(url, headers=headers, json={"expires_at": past}), 422)
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    link = await share(client, headers, created["id"], expires_at=soon)
    assert (await client.get(f"/v1/shared/scenarios/{link['token']}")).status_code == 200
    await asyncio.sleep(1.2)
    assert_problem(await client.get(f"/v1/shared/scenarios/{link['token']}"), 404)


async def test_a_viewer_reads_but_cannot_edit_and_an_editor_edits(client: httpx.AsyncClient) -> None:
    owner = await register(client, "author@example.com")
    viewer = await register(client, "viewer@example.com")
    editor = await register(client, "editor@example.com")
    stranger = await register(client, "nobody@example.com")
    created = await create(client, owner)
    url = f"/v1/scenarios/{created['id']}"
    granted = await share(client, owner, created["id"], email="Viewer@Example.com")
    assert granted["kind"] == "user" and granted["role"] == "viewer" and granted["token"] is None
    await share(client, owner, created["id"], email="editor@example.com", role="editor")

    seen = (await client.get("/v1/scenarios", headers=viewer)).json()
    assert [(item["id"], item["role"]) for item in seen["items"]] == [(created["id"], "viewer")]
    assert (await client.get(url, headers=viewer)).json()["role"] == "viewer"
    assert (await client.get(f"{url}/versions", headers=viewer)).status_code == 200
    for response in (
        await client.put(url, headers=viewer, json=scenario("Viewer was here")),
        await client.post(f"{url}/versions/1/restore", headers=viewer),
        await client.post(f"{url}/rewrite", headers=viewer, json={"scene": 1, "instruction": "more"}),
        await client.post(f"{url}/titles", headers=viewer, json={"n": 2}),
        await client.delete(url, headers=viewer),
        await client.post(f"{url}/share", headers=viewer, json={}),
    ):
        assert_problem(response, 403, "forbidden")

    edited = await client.put(url, headers=editor, json=scenario("Edited by the editor"))
    assert edited.status_code == 200, edited.text
    assert edited.json()["role"] == "editor" and edited.json()["version"] == 2
    versions = (await client.get(f"{url}/versions", headers=owner)).json()
    assert versions["items"][0]["author_id"] != versions["items"][1]["author_id"]
    assert_problem(await client.delete(url, headers=editor), 403, "forbidden")
    assert_problem(await client.get(url, headers=stranger), 404)

    events = (await client.get("/v1/events?type=scenario.shared", headers=viewer)).json()
    assert events["items"][0]["data"]["shared_by"] == "author@example.com"
    assert events["items"][0]["data"]["role"] == "viewer"


async def test_sharing_again_changes_the_role_and_revoking_ends_access(client: httpx.AsyncClient) -> None:
    owner = await register(client, "sharer@example.com")
    friend = await register(client, "friend@example.com")
    created = await create(client, owner)
    url = f"/v1/scenarios/{created['id']}"
    first = await share(client, owner, created["id"], email="friend@example.com")
    again = await share(client, owner, created["id"], email="friend@example.com", role="editor")
    assert again["id"] == first["id"] and again["role"] == "editor"
    assert (await client.put(url, headers=friend, json=scenario("Ours"))).status_code == 200
    assert (await client.delete(f"{url}/shares/{first['id']}", headers=owner)).status_code == 204
    assert_problem(await client.get(url, headers=friend), 404)
    assert (await client.get("/v1/scenarios", headers=friend)).json()["total"] == 0


async def test_sharing_needs_a_kadr_user_and_a_readable_role(client: httpx.AsyncClient) -> None:
    owner = await register(client, "picky@example.com")
    created = await create(client, owner)
    url = f"/v1/scenarios/{created['id']}/share"
    problem = assert_problem(await client.post(url, headers=owner, json={"email": "ghost@example.com"}), 422)
    assert "ghost@example.com" in problem["detail"]
    assert_problem(await client.post(url, headers=owner, json={"email": "picky@example.com"}), 422)
    assert_problem(await client.post(url, headers=owner, json={"role": "editor"}), 422)
    assert_problem(await client.post(url, headers=owner, json={"email": "a@b.c", "role": "owner"}), 422)


async def test_deleting_takes_versions_and_links_along(client: httpx.AsyncClient) -> None:
    headers = await register(client, "deleter@example.com")
    created = await create(client, headers)
    link = await share(client, headers, created["id"])
    assert (await client.delete(f"/v1/scenarios/{created['id']}", headers=headers)).status_code == 204
    assert_problem(await client.get(f"/v1/scenarios/{created['id']}", headers=headers), 404)
    assert_problem(await client.get(f"/v1/scenarios/{created['id']}/versions", headers=headers), 404)
    assert_problem(await client.get(f"/v1/shared/scenarios/{link['token']}"), 404)


async def test_an_api_key_needs_the_scenario_scopes(client: httpx.AsyncClient) -> None:
    headers = await register(client, "keys@example.com")
    created = await create(client, headers)
    key = (await client.post("/v1/api-keys", headers=headers, json={"name": "dashboard"})).json()["key"]
    reader = {"Authorization": f"Bearer {key}"}
    assert (await client.get(f"/v1/scenarios/{created['id']}", headers=reader)).status_code == 200
    problem = assert_problem(await client.post("/v1/scenarios", headers=reader, json=scenario()), 403)
    assert problem["required_scope"] == "scenarios:write"


async def test_title_ideas_are_answered_in_the_request(
    client: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(client, "titles@example.com")
    created = await create(client, headers)
    response = await client.post(f"/v1/scenarios/{created['id']}/titles", headers=headers, json={"n": 3})
    assert response.status_code == 200, response.text
    titles = response.json()["titles"]
    assert len(titles) == 3 and len(set(titles)) == 3
    (request,) = openai_server.requests
    assert request.body["response_format"]["json_schema"]["name"] == "TitleIdeas"
    assert "exactly 3 different titles" in request.body["messages"][1]["content"]
    assert "Morning coffee" in request.body["messages"][1]["content"]
    again = await client.post(f"/v1/scenarios/{created['id']}/titles", headers=headers, json={"n": 3})
    assert again.json()["titles"] == titles and len(openai_server.requests) == 1, "the render cache answers"
    unchanged = (await client.get(f"/v1/scenarios/{created['id']}", headers=headers)).json()
    assert unchanged["version"] == 1
    assert_problem(
        await client.post(f"/v1/scenarios/{created['id']}/titles", headers=headers, json={"n": 11}), 422
    )


async def test_too_few_titles_are_asked_for_again(
    client: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(client, "fewtitles@example.com")
    created = await create(client, headers)
    openai_server.then(Reply(json.dumps({"titles": ["Only one"]})))
    response = await client.post(f"/v1/scenarios/{created['id']}/titles", headers=headers, json={"n": 2})
    assert response.status_code == 200, response.text
    assert len(response.json()["titles"]) == 2
    assert "give exactly 2 different titles" in openai_server.requests[1].body["messages"][-1]["content"]


async def test_a_scene_is_rewritten_as_a_new_version(
    client: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(client, "rewrite@example.com")
    created = await create(client, headers)
    url = f"/v1/scenarios/{created['id']}"
    # The first answer makes scene 2 last 40 s: the scenario would run 60 s, so it is asked again.
    too_long = {**created["scenes"][1], "duration_s": 40, "narration": "long"}
    openai_server.then(Reply(json.dumps(too_long)))
    response = await client.post(
        f"{url}/rewrite", headers=headers, json={"scene": 2, "instruction": "warmer"}
    )
    assert response.status_code == 200, response.text
    rewritten = response.json()
    assert rewritten["version"] == 2
    assert rewritten["scenes"][0] == created["scenes"][0] and rewritten["scenes"][2] == created["scenes"][2]
    assert rewritten["scenes"][1]["visual"].startswith("rewritten")
    assert rewritten["scenes"][1]["duration_s"] == 10
    first, second = openai_server.requests
    assert first.body["response_format"]["json_schema"]["name"] == "Scene"
    assert "Instruction: warmer" in first.body["messages"][1]["content"]
    assert "scene 2 is the longest" in second.body["messages"][-1]["content"]
    versions = (await client.get(f"{url}/versions", headers=headers)).json()
    assert versions["items"][0]["note"].startswith("rewrote scene 2")
    assert_problem(
        await client.post(f"{url}/rewrite", headers=headers, json={"scene": 4, "instruction": "x"}), 422
    )


async def test_model_edits_without_a_model_answer_501(client_with: ClientWith) -> None:
    async with client_with(llm_engine="off") as client:
        headers = await register(client, "offline@example.com")
        created = await create(client, headers)
        url = f"/v1/scenarios/{created['id']}"
        assert_problem(
            await client.post(f"{url}/titles", headers=headers, json={"n": 2}), 501, "not-configured"
        )
        assert_problem(
            await client.post(f"{url}/rewrite", headers=headers, json={"scene": 1, "instruction": "x"}), 501
        )
