"""Events (the outbox), per-user notification settings, and one delivery per event and target."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class EventType(enum.StrEnum):
    RUN_SUCCEEDED = "run.succeeded"
    RUN_FAILED = "run.failed"
    RUN_DEAD = "run.dead"
    RUN_AWAITING_REVIEW = "run.awaiting_review"
    PUBLICATION_PUBLISHED = "publication.published"
    PUBLICATION_FAILED = "publication.failed"
    CHANNEL_NEEDS_REAUTH = "channel.needs_reauth"
    USER_REGISTERED = "user.registered"
    SCENARIO_GENERATED = "scenario.generated"
    SCENARIO_SHARED = "scenario.shared"


#: Event types sent to a user who has not chosen (no `notification_settings` row): all but
#: `user.registered`. A new account has no settings yet, so that event would otherwise mail
#: whatever address was typed into an open registration form; it stays in the inbox instead.
DEFAULT_EVENT_TYPES: list[str] = [str(t) for t in EventType if t != EventType.USER_REGISTERED]


class Transport(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Event(Base):
    """Something happened to a user's resource; written in the transaction that made it happen."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the owner marked it read in the inbox; None: unread.
    read_at: Mapped[datetime | None]


class NotificationSettings(Base):
    __tablename__ = "notification_settings"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Event types the user hears about.
    events: Mapped[list[str]] = mapped_column(default=list)
    email_enabled: Mapped[bool] = mapped_column(default=True)
    #: None: the account's email.
    email_address: Mapped[str | None] = mapped_column(String(320))
    telegram_channel_ids: Mapped[list[str]] = mapped_column(default=list)
    webhook_channel_ids: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    __tablename__ = "notification_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(String(40), index=True)
    transport: Mapped[str] = mapped_column(String(16))
    #: An email address, or the id of the Telegram/webhook channel.
    target: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None]
    job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
