"""Runs, artifacts and profiles over HTTP: thin routes around RunService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from kadr.accounts.dependencies import RunsRead, RunsWrite, Scope, authorize
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.http import problem_responses
from kadr.core.idempotency import IdempotencyKey
from kadr.core.pagination import PageDep, Paginated
from kadr.runs.revisions import HighlightEdit, RevisionService, SegmentEdit
from kadr.runs.schemas import (
    ArtifactOut,
    EventsLinkOut,
    ProfileIn,
    ProfileOut,
    RevisionCreate,
    RunCreate,
    RunOut,
    TranslationCreate,
    TranslationOut,
)
from kadr.runs.service import RunService

router = APIRouter(tags=["runs"])
#: How long a browser's EventSource waits before reconnecting a dropped stream.
SSE_RETRY_MS = 3000


@router.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses={201: {"model": RunOut, "description": "Answered from cache: the run is already finished"}},
)
async def create_run(
    body: RunCreate,
    response: Response,
    user: RunsWrite,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> RunOut:
    run, from_cache = await RunService(session, settings).create_run(
        user.id, body.video_id, body.profile, body.params, idempotency_key, body.use_cache, body.review
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if from_cache:
        response.status_code = status.HTTP_201_CREATED
    return RunOut.model_validate(run)


@router.post(
    "/translations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TranslationOut,
    responses=problem_responses(404, 422),
)
async def create_translation(
    body: TranslationCreate,
    response: Response,
    user: RunsWrite,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> TranslationOut:
    """A video in other languages, subtitled (and with `dub`, spoken): the run it takes, with
    where each language's results will be. Follow it at `Location` like any run."""
    wanted = body.run_request()
    run, from_cache = await RunService(session, settings).create_run(
        user.id,
        wanted.video_id,
        wanted.profile,
        wanted.params,
        idempotency_key,
        wanted.use_cache,
        wanted.review,
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if from_cache:
        response.status_code = status.HTTP_201_CREATED
    return TranslationOut(run=RunOut.model_validate(run), results=body.results())


@router.get("/runs", response_model=Paginated[RunOut])
async def list_runs(
    user: RunsRead,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    video_id: str | None = None,
    run_status: Annotated[str | None, Query(alias="status")] = None,
) -> Paginated[RunOut]:
    result = await RunService(session, settings).list_page(
        user.id, page, video_id=video_id, status=run_status
    )
    return Paginated[RunOut].of(result, page)


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, user: RunsRead, session: SessionDep, settings: SettingsDep) -> Response:
    """The run's status and progress with its components (what clients poll)."""
    run = RunOut.model_validate(await RunService(session, settings).status(user.id, run_id))
    # Serialised here, once: returned as a model, FastAPI would validate it a second time.
    return Response(run.model_dump_json(), media_type="application/json")


@router.post("/runs/{run_id}/events-link", response_model=EventsLinkOut)
async def create_events_link(
    run_id: str, user: RunsRead, session: SessionDep, settings: SettingsDep
) -> EventsLinkOut:
    """A short-lived signed URL of the run's event stream, for a browser's EventSource
    (which cannot send an Authorization header)."""
    url, expires_in = await RunService(session, settings).events_link(user.id, run_id)
    return EventsLinkOut(url=url, expires_in=expires_in)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def run_events(
    run_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Query(description="A link token from POST …/events-link")] = None,
) -> StreamingResponse:
    """Live progress as server-sent events: an `update` event (the run as `GET /v1/runs/{id}`
    shows it) now and on every change, a comment line as a heartbeat, and an `end` event once
    the run is finished, after which the stream closes. Authenticate with the usual header,
    or with `?token=` from `POST /v1/runs/{id}/events-link`."""
    service = RunService(session, settings)
    if token is not None:
        owner_id = service.events_link_owner(token, run_id)
    else:
        owner_id = (await authorize(request, session, settings, Scope.RUNS_READ)).id
    first = await service.open_watch(owner_id, run_id)
    return StreamingResponse(
        server_sent_events(service.watch(owner_id, run_id, first)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(run_id: str, user: RunsWrite, session: SessionDep, settings: SettingsDep) -> RunOut:
    return RunOut.model_validate(await RunService(session, settings).cancel(user.id, run_id))


@router.post("/runs/{run_id}/revisions", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut)
async def create_revision(
    run_id: str,
    body: RevisionCreate,
    response: Response,
    user: RunsWrite,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> RunOut:
    """A new run of a succeeded run with a person's fixes: segment texts and highlight spans.
    Only what reads the edits runs again (subtitles, the clips whose span or captions changed);
    every other output is carried over as it is. Follow it like any run."""
    run = await RevisionService(session, settings).revise(
        user.id,
        run_id,
        [SegmentEdit(e.index, e.text) for e in body.segments],
        [HighlightEdit(e.index, e.start, e.end) for e in body.highlights],
        idempotency_key,
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    return RunOut.model_validate(run)


@router.get("/runs/{run_id}/artifacts", response_model=list[ArtifactOut])
async def list_artifacts(
    run_id: str, user: RunsRead, session: SessionDep, settings: SettingsDep
) -> list[ArtifactOut]:
    service = RunService(session, settings)
    artifacts = await service.artifacts(user.id, run_id)
    return [
        ArtifactOut.model_validate({**_columns(a), "download_url": service.download_url(a)})
        for a in artifacts
    ]


@router.put(
    "/runs/{run_id}/artifacts/{name:path}",
    response_model=list[ArtifactOut],
    responses=problem_responses(404, 409, 422),
)
async def edit_artifact(
    run_id: str,
    name: str,
    edited: Annotated[dict[str, Any], Body(description="The whole edited JSON document")],
    user: RunsWrite,
    session: SessionDep,
    settings: SettingsDep,
) -> list[ArtifactOut]:
    """While the run awaits review: a person's edit of an artifact of the component it stopped
    after (`transcript.json`, `translations/<lang>/cues.json`), text only, timings kept. The
    artifacts it changed (the edit, and the subtitles written from it)."""
    service = RunService(session, settings)
    changed = await service.edit_artifact(user.id, run_id, name, edited)
    return [
        ArtifactOut.model_validate({**_columns(a), "download_url": service.download_url(a)}) for a in changed
    ]


@router.post("/runs/{run_id}/resume", response_model=RunOut, responses=problem_responses(404, 409))
async def resume_run(run_id: str, user: RunsWrite, session: SessionDep, settings: SettingsDep) -> RunOut:
    """Go on after the review: everything after reads the edits."""
    return RunOut.model_validate(await RunService(session, settings).resume(user.id, run_id))


@router.get("/runs/{run_id}/manifest")
async def get_manifest(
    run_id: str, user: RunsRead, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    return await RunService(session, settings).manifest(user.id, run_id)


@router.get(
    "/artifacts/{artifact_id}/content",
    summary="Download an artifact: with a signed `token` from download_url, or with your credentials",
    response_model=None,
)
async def download_artifact(
    artifact_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str | None = None,
) -> Response:
    service = RunService(session, settings)
    if token is not None:
        content = await service.download_by_link(artifact_id, token)
    else:
        user = await authorize(request, session, settings, Scope.RUNS_READ)
        content = await service.download(user.id, artifact_id)
    if content.path is not None:
        return FileResponse(content.path, media_type=content.content_type, filename=content.filename)
    if content.redirect_to is not None:
        return RedirectResponse(content.redirect_to, status_code=status.HTTP_307_TEMPORARY_REDIRECT)
    assert content.stream is not None
    return StreamingResponse(content.stream, media_type=content.content_type)


async def server_sent_events(views: AsyncIterator[dict[str, Any] | None]) -> AsyncIterator[str]:
    """The SSE wire format of RunService.watch: `update` per view, a comment per heartbeat."""
    yield f"retry: {SSE_RETRY_MS}\n\n"
    view: dict[str, Any] | None = None
    number = 0
    async for item in views:
        if item is None:
            yield ": keep-alive\n\n"
            continue
        view = item
        number += 1
        yield f"id: {number}\nevent: update\ndata: {RunOut.model_validate(view).model_dump_json()}\n\n"
    if view is not None:
        yield f'id: {number + 1}\nevent: end\ndata: {{"status": "{view["status"]}"}}\n\n'


def _columns(artifact: object) -> dict[str, Any]:
    return {name: getattr(artifact, name) for name in ArtifactOut.model_fields if name != "download_url"}


@router.get("/profiles", response_model=list[ProfileOut], tags=["profiles"])
async def list_profiles(user: RunsRead, session: SessionDep, settings: SettingsDep) -> list[ProfileOut]:
    return [ProfileOut.model_validate(p) for p in await RunService(session, settings).list_profiles(user.id)]


@router.post("/profiles", status_code=status.HTTP_201_CREATED, response_model=ProfileOut, tags=["profiles"])
async def create_profile(
    body: ProfileIn, response: Response, user: RunsWrite, session: SessionDep, settings: SettingsDep
) -> ProfileOut:
    profile = await RunService(session, settings).create_profile(
        user.id, body.name, body.description, body.components
    )
    response.headers["Location"] = f"/v1/profiles/{profile.name}"
    return ProfileOut.model_validate(profile)


@router.get("/profiles/{name}", response_model=ProfileOut, tags=["profiles"])
async def get_profile(name: str, user: RunsRead, session: SessionDep, settings: SettingsDep) -> ProfileOut:
    return ProfileOut.model_validate(await RunService(session, settings).get_profile(user.id, name))


@router.delete("/profiles/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["profiles"])
async def delete_profile(name: str, user: RunsWrite, session: SessionDep, settings: SettingsDep) -> None:
    await RunService(session, settings).delete_profile(user.id, name)
