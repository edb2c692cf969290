"""Runs, artifacts and profiles over HTTP: thin routes around RunService."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from kadr.accounts.dependencies import CurrentUser
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.http import Page
from kadr.core.schemas import Paginated
from kadr.core.signing import verify
from kadr.runs.schemas import ArtifactOut, ProfileIn, ProfileOut, RunCreate, RunOut
from kadr.runs.service import RunService

router = APIRouter(tags=["runs"])


@router.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses={201: {"model": RunOut, "description": "Answered from cache: the run is already finished"}},
)
async def create_run(
    body: RunCreate,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> RunOut:
    run, from_cache = await RunService(session, settings).create_run(
        user.id, body.video_id, body.profile, body.params, idempotency_key, body.use_cache
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if from_cache:
        response.status_code = status.HTTP_201_CREATED
    return RunOut.model_validate(run)


@router.get("/runs", response_model=Paginated[RunOut])
async def list_runs(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[Page, Depends()],
    video_id: str | None = None,
    run_status: Annotated[str | None, Query(alias="status")] = None,
) -> Paginated[RunOut]:
    items, total = await RunService(session, settings).list_page(
        user.id, page.limit, page.offset, video_id, run_status
    )
    return Paginated[RunOut](
        items=[RunOut.model_validate(r) for r in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> RunOut:
    return RunOut.model_validate(await RunService(session, settings).get(user.id, run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
async def cancel_run(run_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> RunOut:
    return RunOut.model_validate(await RunService(session, settings).cancel(user.id, run_id))


@router.get("/runs/{run_id}/artifacts", response_model=list[ArtifactOut])
async def list_artifacts(
    run_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> list[ArtifactOut]:
    service = RunService(session, settings)
    artifacts = await service.artifacts(user.id, run_id)
    return [
        ArtifactOut.model_validate({**_columns(a), "download_url": service.download_url(a)})
        for a in artifacts
    ]


@router.get("/runs/{run_id}/manifest")
async def get_manifest(
    run_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
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
        verify(settings, "download", token, artifact_id)
        artifact = await service.artifact_by_link(artifact_id)
    else:
        from kadr.accounts.dependencies import current_user

        user = await current_user(request, session, settings)
        artifact = await service.artifact(user.id, artifact_id)
    await session.commit()
    filename = artifact.name.rsplit("/", 1)[-1]
    storage = service.storage
    local = storage.local_path(artifact.storage_key)
    if local is not None:
        return FileResponse(local, media_type=artifact.content_type, filename=filename)
    if storage.supports_presigned:
        return RedirectResponse(
            service.download_url(artifact), status_code=status.HTTP_307_TEMPORARY_REDIRECT
        )
    return StreamingResponse(storage.open_read(artifact.storage_key), media_type=artifact.content_type)


def _columns(artifact: object) -> dict[str, Any]:
    return {name: getattr(artifact, name) for name in ArtifactOut.model_fields if name != "download_url"}


@router.get("/profiles", response_model=list[ProfileOut], tags=["profiles"])
async def list_profiles(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> list[ProfileOut]:
    return [ProfileOut.model_validate(p) for p in await RunService(session, settings).list_profiles(user.id)]


@router.post("/profiles", status_code=status.HTTP_201_CREATED, response_model=ProfileOut, tags=["profiles"])
async def create_profile(
    body: ProfileIn, response: Response, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ProfileOut:
    profile = await RunService(session, settings).create_profile(
        user.id, body.name, body.description, body.components
    )
    response.headers["Location"] = f"/v1/profiles/{profile.name}"
    return ProfileOut.model_validate(profile)


@router.get("/profiles/{name}", response_model=ProfileOut, tags=["profiles"])
async def get_profile(name: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> ProfileOut:
    return ProfileOut.model_validate(await RunService(session, settings).get_profile(user.id, name))


@router.delete("/profiles/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["profiles"])
async def delete_profile(name: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> None:
    await RunService(session, settings).delete_profile(user.id, name)
