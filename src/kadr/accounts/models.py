"""Users, refresh tokens (stored hashed, in rotation families) and API keys (stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class User(Base):
    """A person (or the local `kadr process` owner) who owns videos, runs and keys."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Always stored lower-cased (service.normalise_email), so the unique constraint is case-blind.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: argon2id; "!" for accounts that cannot log in with a password.
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    #: BCP 47, canonical case (`ru-RU`); None: not chosen (accounts.profile checks all three).
    locale: Mapped[str | None] = mapped_column(String(35))
    #: An IANA zone name (`Europe/Moscow`); None: not chosen, times are shown in UTC.
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: ISO 639-1 (`ru`): what AI writing defaults to (`AccountService.language_of`).
    default_language: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """One issued refresh token. The token itself is never stored, only its sha256."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Every token issued by rotating one login shares a family; reuse of a used token revokes it.
    family_id: Mapped[str] = mapped_column(String(40), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the token is rotated; a second use is the sign of a stolen token.
    used_at: Mapped[datetime | None]
    #: Set on logout or when the family is revoked.
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(255))


class ApiKey(Base):
    """A long-lived credential for machines. Only its sha256 and a short display prefix are kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the key may do (`kadr.accounts.scopes`); a person's own session may do everything.
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Updated at most once a minute (service.API_KEY_TOUCH_INTERVAL), not on every request.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
