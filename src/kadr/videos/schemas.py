"""Request and response shapes of the videos API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from kadr.core.schemas import Schema


class VideoOut(Schema):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_seconds: float
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    media_info: dict[str, Any]
    created_at: datetime


class UploadOptionsOut(Schema):
    direct_to_storage: bool = Field(
        description="True: `POST /v1/uploads` hands out object storage URLs (S3) to PUT the file to "
        "directly; false: the bytes would pass through this API anyway, so `POST /v1/videos` is simpler"
    )
    max_upload_bytes: int = Field(description="The largest file either way accepts")


class UploadCreate(Schema):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=100)
    size_bytes: int = Field(gt=0, description="Exact size of the file to upload")


class UploadPart(Schema):
    part_number: int
    url: str


class UploadOut(Schema):
    id: str
    status: str
    filename: str
    size_bytes: int
    error: str | None = None
    video_id: str | None = None
    expires_at: datetime
    #: Single-request upload: PUT the whole file here (with the same Content-Type).
    upload_url: str | None = None
    #: Multipart upload: PUT each part (part_size bytes, the last one shorter) to its URL,
    #: keep each response's ETag, then send them to complete.
    part_size: int | None = None
    parts: list[UploadPart] | None = None


class CompletedPart(Schema):
    part_number: int = Field(ge=1, le=10_000)
    etag: str


class UploadComplete(Schema):
    parts: list[CompletedPart] | None = None
