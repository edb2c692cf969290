"""Publications and the per-project provider quota ledger."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class PublicationStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: The `details` key of the Telegram caption a clip's metadata wrote, kept when the
#: publication's title, description and tags all came from that metadata.
TELEGRAM_CAPTION = "telegram_caption"

FINISHED_PUBLICATION_STATUSES = (
    PublicationStatus.PUBLISHED,
    PublicationStatus.FAILED,
    PublicationStatus.CANCELLED,
)


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (
        Index("ix_publications_status_publish_at", "status", "publish_at"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_publications_owner_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[str | None] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    thumbnail_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    privacy: Mapped[str] = mapped_column(String(16), default="private")
    made_for_kids: Mapped[bool] = mapped_column(default=False)
    notify_subscribers: Mapped[bool] = mapped_column(default=True)
    publish_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=PublicationStatus.SCHEDULED)
    #: Why it waits or what it is doing (quota reset, pacing slot, upload progress).
    status_detail: Mapped[str | None]
    error: Mapped[str | None]
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    uploaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The provider's resumable upload session: a retry resumes it instead of starting over.
    upload_session_url: Mapped[str | None]
    #: The provider's id for the published item: once set, nothing is uploaded again.
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None]
    thumbnail_set: Mapped[bool] = mapped_column(default=False)
    job_id: Mapped[str | None] = mapped_column(String(40))
    #: When the scheduler asked for the channel's credentials to be checked ahead of this slot.
    preflight_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]


class QuotaUsage(Base):
    """Units spent per provider project, bucket and provider day (YouTube: the Pacific date)."""

    __tablename__ = "quota_usage"

    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    units: Mapped[int] = mapped_column(default=0)
