"""Channels and the short-lived state of an OAuth connect flow."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class ChannelKind(enum.StrEnum):
    YOUTUBE = "youtube"
    TELEGRAM = "telegram"
    WEBHOOK = "webhook"


class ChannelHealth(enum.StrEnum):
    OK = "ok"
    NEEDS_REAUTH = "needs_reauth"
    ERROR = "error"


class Channel(Base):
    """A destination. Secrets (tokens, signing secrets) live encrypted in `secrets`."""

    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_owner_kind_external", "owner_id", "kind", "external_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    #: YouTube channel id, Telegram chat id; None for webhooks.
    external_id: Mapped[str | None] = mapped_column(String(255))
    #: What may be shown: webhook URL, chat title and username, channel title, Google project.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: A Fernet token of a JSON object (kadr.core.crypto.SecretBox).
    secrets: Mapped[str] = mapped_column(default="")
    status: Mapped[str] = mapped_column(String(16), default=ChannelHealth.OK)
    status_reason: Mapped[str | None]
    #: Pacing: the earliest time the next upload to this channel may start.
    next_slot_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthState(Base):
    """One pending "connect YouTube" consent: the `state` (hashed) and its PKCE verifier (encrypted)."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    code_verifier: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
