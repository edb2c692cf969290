"""Voices over HTTP: what dub may speak with, and speaker→voice maps kept across videos."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import DATA_DIR
from tests.support.api import assert_problem, register, upload

pytestmark = pytest.mark.anyio

TEAM = {"speakers": {"S1": {"es": "espeak:es", "en": "piper:en_US-joe-medium"}}}


async def test_the_voices_a_dub_may_name(api: httpx.AsyncClient) -> None:
    headers = await register(api, "voices@example.com")
    listed = (await api.get("/v1/voices", headers=headers)).json()
    defaults = {voice["language"]: voice["id"] for voice in listed if voice["default"]}
    assert defaults["ru"] == "festival:msu_ru_nsh_clunits" and defaults["en"] == "piper:en_US-joe-medium"
    assert {"id": "espeak:ru", "engine": "espeak", "language": "ru", "default": False} in listed
    assert_problem(await api.get("/v1/voices"), 401)
    health = (await api.get("/health")).json()["languages"]
    assert health["speech"]["voices"] == {"en": "piper:en_US-joe-medium", "ru": "festival:msu_ru_nsh_clunits"}
    assert "en-es" in health["apertium_pairs"]


async def test_a_voice_map_is_kept_and_gives_a_run_its_voices(api: httpx.AsyncClient) -> None:
    headers = await register(api, "voice-maps@example.com")
    created = await api.put("/v1/voices/maps/team", headers=headers, json=TEAM)
    assert created.status_code == 201, created.text
    assert created.json()["speakers"] == TEAM["speakers"]
    again = await api.put("/v1/voices/maps/team", headers=headers, json=TEAM)
    assert again.status_code == 200, "the second PUT replaces it"
    listed = (await api.get("/v1/voices/maps", headers=headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "team"

    unknown = {"speakers": {"S1": {"ru": "piper:nobody"}}}
    refused = assert_problem(await api.put("/v1/voices/maps/bad", headers=headers, json=unknown), 422)
    assert "speakers.S1.ru" in refused["detail"] and "espeak:ru" in refused["detail"], "it says what there is"
    stranger = await register(api, "not-my-voices@example.com")
    assert_problem(await api.get("/v1/voices/maps/team", headers=stranger), 404)
    assert_problem(await api.delete("/v1/voices/maps/team", headers=stranger), 404)

    # A run naming the map speaks with its voices; a voice the run names itself wins.
    video_id = (await upload(api, headers, DATA_DIR / "talk.mp4")).json()["id"]
    translate = {"languages": ["es", "en"], "engine": "llm"}
    wanted = {"video_id": video_id, "profile": "dub", "use_cache": False}
    params = {"translate": translate, "dub": {"voice_map": "team", "voices": {"en": "espeak:en"}}}
    run = await api.post("/v1/runs", headers=headers, json={**wanted, "params": params})
    assert run.status_code == 202, run.text
    assert run.json()["config"]["dub"]["voices"] == {"es": "espeak:es", "en": "espeak:en"}
    await api.post(f"/v1/runs/{run.json()['id']}/cancel", headers=headers)
    missing = {"translate": translate, "dub": {"voice_map": "nobody's"}}
    refused = assert_problem(
        await api.post("/v1/runs", headers=headers, json={**wanted, "params": missing}), 422
    )
    assert "no voice map" in refused["detail"]

    assert (await api.delete("/v1/voices/maps/team", headers=headers)).status_code == 204
    assert_problem(await api.get("/v1/voices/maps/team", headers=headers), 404)


async def test_the_languages_this_installation_hears_translates_and_speaks(api: httpx.AsyncClient) -> None:
    headers = await register(api, "languages@example.com")
    languages = (await api.get("/v1/languages", headers=headers)).json()
    assert {"en", "ru", "uk"} <= set(languages["transcribe"])
    assert "ru" in languages["translate"]["llm"] and "es" in languages["translate"]["apertium"]
    assert languages["speech"]["ru"][0] == "festival:msu_ru_nsh_clunits", "best first"
    profiles = {p["name"]: p for p in (await api.get("/v1/profiles", headers=headers)).json()}
    assert profiles["dub"]["reviewable"] == ["transcribe", "translate"]
    assert profiles["transcript-only"]["reviewable"] == ["transcribe"]
