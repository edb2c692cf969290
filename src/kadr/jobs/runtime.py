"""Placeholder runtime (being written)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kadr.config import Settings


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @asynccontextmanager
    async def running(self, *, worker: bool, scheduler: bool) -> AsyncIterator[None]:
        yield
