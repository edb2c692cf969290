"""Glossaries over HTTP: one per language pair, replaced whole by PUT, nobody else's visible,
and put into the plan of every translating run created after (so the config_hash changes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.api import assert_problem, register, upload
from tests.support.media import make_video

pytestmark = pytest.mark.anyio
TERMS = {"terms": [{"term": "creators", "translation": "авторы"}, {"term": "clip", "translation": "клип"}]}


async def test_put_get_list_replace_and_delete(api: httpx.AsyncClient) -> None:
    headers = await register(api, "glossary@example.com")
    created = await api.put("/v1/glossaries/en/ru", headers=headers, json=TERMS)
    assert created.status_code == 201, created.text
    assert created.json()["term_count"] == 2 and created.json()["terms"] == TERMS["terms"]
    replaced = await api.put("/v1/glossaries/en/ru", headers=headers, json={"terms": [TERMS["terms"][1]]})
    assert replaced.status_code == 200 and replaced.json()["terms"] == [TERMS["terms"][1]], "PUT replaces"
    await api.put("/v1/glossaries/en/es", headers=headers, json={"terms": []})
    listed = (await api.get("/v1/glossaries", headers=headers)).json()
    assert [(g["source_language"], g["target_language"], g["term_count"]) for g in listed["items"]] == [
        ("en", "es", 0),
        ("en", "ru", 1),
    ]
    assert (await api.get("/v1/glossaries/en/ru", headers=headers)).json()["terms"] == [TERMS["terms"][1]]
    assert (await api.delete("/v1/glossaries/en/ru", headers=headers)).status_code == 204
    assert_problem(await api.get("/v1/glossaries/en/ru", headers=headers), 404)
    assert_problem(await api.delete("/v1/glossaries/en/ru", headers=headers), 404)


async def test_bad_glossaries_get_reasons_and_other_users_see_nothing(api: httpx.AsyncClient) -> None:
    owner = await register(api, "owner@example.com")
    other = await register(api, "other@example.com")
    await api.put("/v1/glossaries/en/ru", headers=owner, json=TERMS)
    assert_problem(await api.get("/v1/glossaries/en/ru", headers=other), 404)
    assert (await api.get("/v1/glossaries", headers=other)).json()["total"] == 0
    assert_problem(await api.delete("/v1/glossaries/en/ru", headers=other), 404)
    body = assert_problem(await api.put("/v1/glossaries/en/en", headers=owner, json=TERMS), 422)
    assert "two different languages" in body["detail"]
    twice = {"terms": [{"term": "Clip", "translation": "клип"}, {"term": "clip", "translation": "ролик"}]}
    body = assert_problem(await api.put("/v1/glossaries/en/ru", headers=owner, json=twice), 422)
    assert "given twice" in str(body)
    assert_problem(await api.put("/v1/glossaries/english/ru", headers=owner, json=TERMS), 422)
    assert_problem(await api.put("/v1/glossaries/en/ru", headers=owner, json={"terms": [{"term": ""}]}), 422)
    assert_problem(await api.get("/v1/glossaries/en/ru"), 401)


async def test_a_translating_run_takes_the_glossary_and_a_changed_one_is_new_work(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    headers = await register(api, "translator@example.com")
    video_id = (await upload(api, headers, make_video(tmp_path / "v.mp4", 3))).json()["id"]
    await api.put("/v1/glossaries/en/ru", headers=headers, json=TERMS)
    request = {
        "video_id": video_id,
        "profile": "transcript-only",
        "params": {"translate": {"languages": ["ru"], "glossary": {"en>ru": {"clip": "ролик"}}}},
    }
    first = await api.post("/v1/runs", headers=headers, json=request)
    assert first.status_code == 202, first.text
    plan = first.json()["config"]["translate"]
    assert plan["glossary"] == {"en>ru": {"creators": "авторы", "clip": "ролик"}}, "the run's own terms win"
    await api.put("/v1/glossaries/en/ru", headers=headers, json={"terms": [TERMS["terms"][0]]})
    second = await api.post("/v1/runs", headers=headers, json=request)
    assert second.json()["config"]["translate"]["glossary"] == {
        "en>ru": {"creators": "авторы", "clip": "ролик"}
    }
    await api.put("/v1/glossaries/en/ru", headers=headers, json={"terms": []})
    third = await api.post("/v1/runs", headers=headers, json=request)
    assert third.json()["config_hash"] != first.json()["config_hash"], "a changed glossary is new work"


async def test_a_language_that_cannot_be_translated_is_refused_when_the_run_is_created(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    headers = await register(api, "refused@example.com")
    video_id = (await upload(api, headers, make_video(tmp_path / "v.mp4", 3))).json()["id"]
    request = {
        "video_id": video_id,
        "profile": "translate",
        "params": {"translate": {"languages": ["ru", "tlh"]}},
    }
    body = assert_problem(await api.post("/v1/runs", headers=headers, json=request), 422)
    assert "cannot translate into tlh; it can translate into: " in body["detail"] and "ru" in body["detail"]
    assert (await api.get("/v1/runs", headers=headers)).json()["total"] == 0, "nothing was started"
