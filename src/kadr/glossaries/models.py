"""One glossary per owner and language pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class Glossary(Base):
    """Terms of `source_language` and how to say them in `target_language`."""

    __tablename__ = "glossaries"
    __table_args__ = (
        UniqueConstraint("owner_id", "source_language", "target_language", name="uq_glossaries_owner_pair"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source_language: Mapped[str] = mapped_column(String(8))
    target_language: Mapped[str] = mapped_column(String(8))
    #: term → translation, in the order the owner gave them.
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def term_count(self) -> int:
        return len(self.terms)
