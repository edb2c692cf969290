"""Videos and uploads over HTTP: thin routes around VideoService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from kadr.accounts.dependencies import VideosRead, VideosWrite
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.errors import PayloadTooLarge
from kadr.core.http import problem_responses
from kadr.core.pagination import PageDep, Paginated
from kadr.videos.schemas import (
    UploadComplete,
    UploadCreate,
    UploadOptionsOut,
    UploadOut,
    UploadPart,
    VideoOut,
)
from kadr.videos.service import VideoService

router = APIRouter(tags=["videos"])


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 1024 * 1024:
        error = PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes")
        # Refused before reading: close rather than let the server read the whole body for nothing.
        error.headers["Connection"] = "close"
        raise error


@router.post(
    "/videos",
    status_code=status.HTTP_201_CREATED,
    response_model=VideoOut,
    summary="Upload a video (multipart field `file`, or the raw body with its Content-Type)",
    responses=problem_responses(400, 413),
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
            "required": True,
        }
    },
)
async def upload_video(
    request: Request,
    response: Response,
    user: VideosWrite,
    session: SessionDep,
    settings: SettingsDep,
    filename: Annotated[str | None, Query(description="Name for a raw-body upload")] = None,
) -> VideoOut:
    _check_declared_length(request, settings.max_upload_bytes)
    video = await VideoService(session, settings).upload(
        user.id, request.stream(), request.headers.get("content-type", ""), filename
    )
    response.headers["Location"] = f"/v1/videos/{video.id}"
    return VideoOut.model_validate(video)


@router.get("/videos", response_model=Paginated[VideoOut])
async def list_videos(
    user: VideosRead, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Paginated[VideoOut]:
    return Paginated[VideoOut].of(await VideoService(session, settings).list_page(user.id, page), page)


@router.get("/videos/{video_id}", response_model=VideoOut)
async def get_video(video_id: str, user: VideosRead, session: SessionDep, settings: SettingsDep) -> VideoOut:
    return VideoOut.model_validate(await VideoService(session, settings).get(user.id, video_id))


@router.delete("/videos/{video_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_video(video_id: str, user: VideosWrite, session: SessionDep, settings: SettingsDep) -> None:
    await VideoService(session, settings).delete(user.id, video_id)


def _upload_out(upload: object, instructions: dict[str, object] | None = None) -> UploadOut:
    out = UploadOut.model_validate(upload)
    if instructions:
        out.upload_url = instructions.get("upload_url")  # type: ignore[assignment]
        out.part_size = instructions.get("part_size")  # type: ignore[assignment]
        parts = instructions.get("parts")
        if parts is not None:
            out.parts = [UploadPart.model_validate(p) for p in parts]  # type: ignore[attr-defined]
    return out


@router.post("/uploads", status_code=status.HTTP_201_CREATED, response_model=UploadOut)
async def create_upload(
    body: UploadCreate, response: Response, user: VideosWrite, session: SessionDep, settings: SettingsDep
) -> UploadOut:
    upload, instructions = await VideoService(session, settings).create_upload(
        user.id, body.filename, body.content_type, body.size_bytes
    )
    response.headers["Location"] = f"/v1/uploads/{upload.id}"
    return _upload_out(upload, instructions)


# Before `/uploads/{upload_id}`, which would take "options" for an id.
@router.get("/uploads/options", response_model=UploadOptionsOut)
async def upload_options(user: VideosRead, session: SessionDep, settings: SettingsDep) -> UploadOptionsOut:
    """How a client should send a file: straight to object storage, or through `POST /v1/videos`."""
    direct, limit = VideoService(session, settings).upload_options()
    return UploadOptionsOut(direct_to_storage=direct, max_upload_bytes=limit)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def get_upload(
    upload_id: str, user: VideosRead, session: SessionDep, settings: SettingsDep
) -> UploadOut:
    return _upload_out(await VideoService(session, settings).get_upload(user.id, upload_id))


@router.put(
    "/uploads/{upload_id}/content",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Receive an upload's bytes (embedded mode's stand-in for a presigned PUT)",
)
async def put_upload_content(
    upload_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Query(description="The signature from upload_url")],
) -> None:
    service = VideoService(session, settings)
    upload = await service.pending_upload_for_content(upload_id, token)
    _check_declared_length(request, upload.size_bytes)
    await service.receive_upload_content(upload, request.stream())


@router.post("/uploads/{upload_id}/complete", status_code=status.HTTP_202_ACCEPTED, response_model=UploadOut)
async def complete_upload(
    upload_id: str,
    response: Response,
    user: VideosWrite,
    session: SessionDep,
    settings: SettingsDep,
    body: UploadComplete | None = None,
) -> UploadOut:
    parts = [(p.part_number, p.etag) for p in body.parts] if body and body.parts else None
    upload = await VideoService(session, settings).complete_upload(user.id, upload_id, parts)
    response.headers["Location"] = f"/v1/uploads/{upload.id}"
    return _upload_out(upload)
