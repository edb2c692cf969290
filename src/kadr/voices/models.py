"""A speaker→voice map, named, per owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class VoiceMap(Base):
    """Per speaker, the voice to speak each language with: `{"S1": {"ru": "festival:…"}}`."""

    __tablename__ = "voice_maps"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_voice_maps_owner_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    speakers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
