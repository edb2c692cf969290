"""What the gateway's callers record: every model call (`llm_calls`), and answers worth
reusing (`render_cache`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class LLMCallRecord(Base):
    """One gateway call (its repairs included): who, what for, which model, what it cost."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    prompt_id: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[int]
    prompt_hash: Mapped[str] = mapped_column(String(64))
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=1)
    #: ok, repaired, invalid, unavailable, refused, cancelled, cached, failed
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500))
    #: What the call was for (`scn_…`, `run_…`), to find a resource's calls.
    subject_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RenderCacheEntry(Base):
    """An answer keyed by everything that determines it (subject, model, prompt hash, locale)."""

    __tablename__ = "render_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prompt_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tokens_saved: Mapped[int] = mapped_column(default=0)
    hits: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
