"""Publication requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, computed_field, model_validator

from kadr.core.schemas import IsoDateTime, Schema
from kadr.publications.models import PublicationStatus

Privacy = Literal["private", "unlisted", "public"]


class PublicationFields(BaseModel):
    title: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Required, except for a clip whose run wrote metadata: its title is the default",
    )
    description: str | None = Field(
        None, max_length=5000, description="Default: the clip's metadata description, or empty"
    )
    tags: list[str] | None = Field(
        None, max_length=60, description="Default: the clip's metadata tags, or none"
    )
    privacy: Privacy = Field(
        "private", description="YouTube privacy; unaudited Google projects upload private only"
    )
    made_for_kids: bool = Field(False, description="YouTube's selfDeclaredMadeForKids")
    notify_subscribers: bool = True


class PublicationCreate(PublicationFields):
    channel_id: str
    video_id: str | None = Field(None, description="An uploaded video; give this or artifact_id")
    artifact_id: str | None = Field(None, description="A run's clip (video artifact)")
    thumbnail_artifact_id: str | None = Field(None, description="An image artifact (e.g. a run's thumbnail)")
    publish_at: IsoDateTime | None = Field(None, description="With a timezone; default now")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.video_id is None) == (self.artifact_id is None):
            raise ValueError("give exactly one of video_id or artifact_id")
        return self


class PublicationUpdate(BaseModel):
    """Reschedule or edit a publication that has not started."""

    publish_at: IsoDateTime | None = None
    title: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=5000)
    tags: list[str] | None = Field(None, max_length=60)
    privacy: Privacy | None = None
    made_for_kids: bool | None = None
    notify_subscribers: bool | None = None


class PublicationOut(Schema):
    id: str
    channel_id: str
    video_id: str | None
    artifact_id: str | None
    thumbnail_artifact_id: str | None
    title: str
    description: str
    tags: list[str]
    privacy: str
    made_for_kids: bool
    notify_subscribers: bool
    publish_at: datetime
    status: str = Field(description="scheduled → queued → publishing → published | failed | cancelled")
    status_detail: str | None = Field(description="Why it waits (quota, pacing) or how far it got")
    error: str | None
    size_bytes: int
    uploaded_bytes: int
    external_id: str | None = Field(description="The platform's id (YouTube video id, Telegram message id)")
    external_url: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    published_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percent(self) -> float:
        if self.status == PublicationStatus.PUBLISHED:
            return 100.0
        if not self.size_bytes:
            return 0.0
        return round(100.0 * self.uploaded_bytes / self.size_bytes, 1)
