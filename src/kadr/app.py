"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import kadr
from kadr.config import Settings, get_settings
from kadr.core.db import dispose_database, get_database
from kadr.core.http import document_problems, install_error_handlers
from kadr.core.logging import configure_logging
from kadr.core.metrics import MetricsMiddleware


def create_app(
    settings: Settings | None = None,
    *,
    run_worker: bool = False,
    run_scheduler: bool = False,
) -> FastAPI:
    """Build the API. `run_worker`/`run_scheduler` embed those roles in this process (`kadr up`)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from kadr.jobs.runtime import Runtime

        get_database(settings)
        async with AsyncExitStack() as stack:
            runtime = Runtime(settings)
            app.state.runtime = runtime
            await stack.enter_async_context(runtime.running(worker=run_worker, scheduler=run_scheduler))
            # What exists now (imported modules, ORM mappers, schemas) lives as long as the
            # process: moved out of the collector's reach, a full collection during a request
            # walks only what requests allocate, instead of pausing every request behind it.
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000, 20, 20)
            yield
        await dispose_database()

    app = FastAPI(
        title="kadr",
        version=kadr.__version__,
        summary="Self-hosted backend for AI video work.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Location"],
        )

    app.add_middleware(MetricsMiddleware)

    from kadr.accounts.dependencies import current_principal
    from kadr.accounts.endpoints import router as accounts_router
    from kadr.admin.endpoints import router as admin_router
    from kadr.channels.endpoints import router as channels_router
    from kadr.glossaries.endpoints import router as glossaries_router
    from kadr.health import router as health_router
    from kadr.notifications.endpoints import router as notifications_router
    from kadr.publications.endpoints import router as publications_router
    from kadr.runs.endpoints import router as runs_router
    from kadr.scenarios.endpoints import router as scenarios_router
    from kadr.videos.endpoints import router as videos_router
    from kadr.voices.endpoints import router as voices_router
    from kadr.web.endpoints import not_found_page
    from kadr.web.endpoints import router as web_router

    app.include_router(health_router)
    app.include_router(accounts_router, prefix="/v1")
    app.include_router(videos_router, prefix="/v1")
    app.include_router(runs_router, prefix="/v1")
    app.include_router(channels_router, prefix="/v1")
    app.include_router(publications_router, prefix="/v1")
    app.include_router(notifications_router, prefix="/v1")
    app.include_router(scenarios_router, prefix="/v1")
    app.include_router(glossaries_router, prefix="/v1")
    app.include_router(voices_router, prefix="/v1")
    app.include_router(admin_router, prefix="/v1")
    app.include_router(web_router)  # the browser app at `/`: its pages and /static/ files
    app.state.not_found_page = not_found_page
    document_problems(app, authenticated_by=(current_principal,))
    return app
