"""Health and metrics, as an operator's probes and Prometheus see them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.anyio


async def health_of(settings: Settings) -> httpx.Response:
    """`/health` of an app running with `settings` (the database fixture has migrated it)."""
    from kadr.app import create_app

    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client,
    ):
        return await client.get("/health")


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    health = await client.get("/health")
    assert health.status_code == 200, health.text
    assert {name: check["status"] for name, check in health.json()["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "storage": "ok",
    }
    assert set(health.json()["llm"]) >= {"engine", "model", "status"}


async def test_unreachable_storage_makes_health_503(settings: Settings, database: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kadr.app import create_app

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the storage folder should be")
    broken = settings.model_copy(update={"storage_url": (blocked / "storage").as_uri()})
    application = create_app(broken)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client,
    ):
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["storage"]["status"] == "down"


async def test_metrics_in_prometheus_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "kadr_runs_total",
        "kadr_queue_length",
        "kadr_component_duration_seconds",
        "kadr_errors_total",
    ):
        assert f"# TYPE {name}" in text, name
    assert 'kadr_queue_length{queue="video",status="queued"} 0.0' in text


async def test_health_says_when_there_is_no_language_model(settings: Settings, database: None) -> None:
    health = await health_of(settings.model_copy(update={"llm_engine": "off"}))
    assert health.status_code == 200, health.text  # a feature turned off is not a fault
    assert health.json()["llm"] == {"engine": "off", "model": "off", "status": "off"}


async def test_health_names_the_remote_model_without_calling_it(
    settings: Settings, database: None, openai_server: OpenAIServer
) -> None:
    health = await health_of(settings.model_copy(update=openai_server.settings()))
    assert health.status_code == 200, health.text
    assert health.json()["llm"] == {
        "engine": "openai",
        "model": f"openai:{openai_server.model}",
        "status": "ok",
    }
    assert openai_server.requests == []
    unconfigured = await health_of(settings.model_copy(update={"llm_engine": "openai"}))
    assert unconfigured.status_code == 200
    assert unconfigured.json()["llm"]["status"] == "not-configured"


async def test_health_names_the_embedded_model_without_loading_it(
    settings: Settings, database: None, tmp_path: Path
) -> None:
    from kadr.llm.engines.local import runtime_installed
    from kadr.llm.model_files import CATALOG

    cache = tmp_path / "model-cache"
    model = CATALOG[settings.llm_local_model]
    health = await health_of(settings.model_copy(update={"llm_engine": "local", "model_cache_dir": cache}))
    assert health.status_code == 200, health.text  # a model not installed is not a fault
    llm: dict[str, Any] = health.json()["llm"]
    if not runtime_installed():
        assert llm["status"] == "not-installed" and llm["model"] == "not installed"
        assert "llama-cpp-python" in llm["detail"]
    elif model.installed():
        assert llm == {"engine": "local", "model": f"local:{model.name}@{model.sha256[:12]}", "status": "ok"}
    else:
        assert llm["status"] == "not-installed" and model.name in llm["detail"]
    assert not cache.exists()  # nothing was assembled
