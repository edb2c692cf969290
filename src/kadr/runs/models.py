"""Profiles, runs, their components and the artifacts they produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kadr.core.clock import utcnow
from kadr.core.db import Base

# The states are the pipeline's, defined once there; the runs domain stores them.
from kadr.pipeline.base import ComponentStatus, RunStatus

FINISHED_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Profile(Base):
    """A user's named pipeline configuration (the built-in ones live in code)."""

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_profiles_owner_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(default="")
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_cache", "owner_id", "content_sha256", "config_hash", "status"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_runs_owner_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    profile_name: Mapped[str] = mapped_column(String(64))
    #: The resolved components and parameters, in execution order.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_hash: Mapped[str] = mapped_column(String(64))
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Components after which the run stops for a person (`awaiting_review`), and those a person
    #: has let it go on from (`POST /v1/runs/{id}/resume`).
    review: Mapped[list[str]] = mapped_column(default=list)
    reviewed: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str | None]
    job_id: Mapped[str | None] = mapped_column(String(40))
    cached_from_run_id: Mapped[str | None] = mapped_column(String(40))
    #: The run this one revises (a person's edits applied to its outputs); None for a fresh run.
    parent_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True, default=None
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    components: Mapped[list[RunComponent]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunComponent.position", lazy="selectin"
    )


class RunComponent(Base):
    __tablename__ = "run_components"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_run_components_run_name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    position: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ComponentStatus.PENDING)
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str | None]
    attempts: Mapped[int] = mapped_column(default=0)
    device: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]

    run: Mapped[Run] = relationship(back_populates="components")


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("run_id", "name", name="uq_artifacts_run_name"),
        Index("ix_artifacts_storage_key", "storage_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(String(40), index=True)
    component: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    storage_key: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
