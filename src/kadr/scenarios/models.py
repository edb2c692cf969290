"""Scenarios, every version of their content, and who else may see them (links and users)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class ScenarioStatus(enum.StrEnum):
    #: Written by hand, or generated and ready to edit.
    READY = "ready"
    #: Generation asked for; its job has not started (or waits to retry).
    QUEUED = "queued"
    GENERATING = "generating"
    FAILED = "failed"


FINISHED_SCENARIO_STATUSES = (ScenarioStatus.READY, ScenarioStatus.FAILED)


class Platform(enum.StrEnum):
    YOUTUBE_SHORTS = "youtube_shorts"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    REELS = "reels"
    TELEGRAM = "telegram"
    VK_CLIPS = "vk_clips"
    OTHER = "other"


class Aspect(enum.StrEnum):
    VERTICAL = "9:16"
    WIDE = "16:9"
    SQUARE = "1:1"
    PORTRAIT = "4:5"


class Role(enum.StrEnum):
    """What the caller may do with a scenario."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class ShareKind(enum.StrEnum):
    #: A read-only link anyone holding it may open.
    LINK = "link"
    #: Another kadr user, as viewer or editor.
    USER = "user"


#: The content of a scenario: what a version keeps and a restore brings back.
CONTENT_FIELDS = (
    "title",
    "logline",
    "platform",
    "aspect",
    "language",
    "target_duration_s",
    "words_per_minute",
    "hook",
    "scenes",
    "call_to_action",
)


class Scenario(Base):
    __tablename__ = "scenarios"
    __table_args__ = (
        Index("ix_scenarios_owner_created", "owner_id", "created_at"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_scenarios_owner_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=ScenarioStatus.READY)
    #: Generation progress 0..1 (answer tokens over the tokens expected).
    progress: Mapped[float] = mapped_column(default=1.0)
    error: Mapped[str | None]
    job_id: Mapped[str | None] = mapped_column(String(40))
    #: The generated content came from the render cache (no model call).
    from_cache: Mapped[bool] = mapped_column(default=False)
    #: What generation was asked for (topic, audience, tone, …), None for hand-written ones.
    brief: Mapped[dict[str, Any] | None]
    source_run_id: Mapped[str | None] = mapped_column(String(40))

    title: Mapped[str] = mapped_column(String(200), default="")
    #: The title case-folded, for the case-blind `q` filter (SQLite folds only ASCII itself).
    title_folded: Mapped[str] = mapped_column(String(200), default="")
    logline: Mapped[str] = mapped_column(default="")
    platform: Mapped[str] = mapped_column(String(32))
    aspect: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(16))
    target_duration_s: Mapped[int]
    words_per_minute: Mapped[int]
    hook: Mapped[str] = mapped_column(default="")
    scenes: Mapped[list[Any]] = mapped_column(default=list)
    call_to_action: Mapped[str] = mapped_column(default="")
    #: The number of the newest version (0 while nothing has been written yet).
    version: Mapped[int] = mapped_column(default=0)

    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScenarioVersion(Base):
    """The content after one change (created, generated, edited, rewritten, restored)."""

    __tablename__ = "scenario_versions"
    __table_args__ = (UniqueConstraint("scenario_id", "number", name="uq_scenario_versions_scenario_number"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    number: Mapped[int]
    #: CONTENT_FIELDS and their values.
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What made it, in words ("edited", "rewrote scene 3", "restored version 2").
    note: Mapped[str] = mapped_column(String(200), default="")
    #: Who made it (the owner or an editor); None for the model's own generation.
    author_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScenarioShare(Base):
    """A read-only link (only the token's sha256 is kept) or a grant to another user."""

    __tablename__ = "scenario_shares"
    __table_args__ = (Index("ix_scenario_shares_user", "user_id", "scenario_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), index=True)
    #: The scenario's owner, who alone lists and revokes its shares.
    owner_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(8), default=Role.VIEWER)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The grantee's address as it was shared with (users cannot change theirs).
    email: Mapped[str | None] = mapped_column(String(320))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
