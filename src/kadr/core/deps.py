"""FastAPI dependencies shared by every domain's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.db import deferred_transactions, get_database

#: Methods that must not change state (RFC 9110): their transactions begin DEFERRED.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES_ATTR = "__kadr_writes__"
F = TypeVar("F", bound=Callable[..., object])


def writes(endpoint: F) -> F:
    """Mark a GET endpoint that writes (an OAuth callback): its transactions begin IMMEDIATE.

    Put it under the route decorator::

        @router.get("/channels/youtube/callback")
        @writes
        async def youtube_callback(...): ...
    """
    setattr(endpoint, _WRITES_ATTR, True)
    return endpoint


def _reads_only(request: Request) -> bool:
    return request.method in SAFE_METHODS and not getattr(request.scope.get("endpoint"), _WRITES_ATTR, False)


async def get_app_settings(request: Request) -> Settings:
    # Async on purpose: FastAPI runs a sync dependency in a worker thread, a hop per request.
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one session, shared by authentication and the endpoint.

    A safe-method request's transactions begin DEFERRED (readers do not wait for the
    SQLite write lock); others, and endpoints marked `@writes`, begin IMMEDIATE.
    """
    with deferred_transactions(_reads_only(request)):
        async with get_database(request.app.state.settings).session() as session:
            yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
