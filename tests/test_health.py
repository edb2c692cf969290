"""Health and metrics, as an operator's probes and Prometheus see them."""

from __future__ import annotations

import httpx
import pytest

from kadr.config import Settings

pytestmark = pytest.mark.anyio


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    health = await client.get("/health")
    assert health.status_code == 200, health.text
    assert {name: check["status"] for name, check in health.json()["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "storage": "ok",
    }


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
