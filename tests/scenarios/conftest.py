"""Tests here reach the OpenAI stand-in through `settings`; it answers as a scriptwriter would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from tests.support.openai_server import OpenAIServer
from tests.support.scenarios import scriptwriter_settings


@pytest.fixture(name="settings")
def scenario_settings(settings: Settings, openai_server: OpenAIServer) -> Settings:
    return Settings(**{**settings.model_dump(), **scriptwriter_settings(openai_server)})


ClientWith = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_with(settings: Settings, database: None) -> ClientWith:
    """A client of an app (with its worker) on `settings` changed by the keyword arguments."""

    @asynccontextmanager
    async def open_client(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        from kadr.app import create_app

        application = create_app(Settings(**{**settings.model_dump(), **changes}), run_worker=True)
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver"
            ) as http,
        ):
            yield http

    return open_client
