"""Notification settings and the event log over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from kadr.core.schemas import Schema
from kadr.notifications.models import DEFAULT_EVENT_TYPES, EventType


class NotificationSettingsIn(BaseModel):
    events: list[EventType] = Field(
        default_factory=lambda: [EventType(t) for t in DEFAULT_EVENT_TYPES],
        description="Event types to hear about (default: all but `user.registered`)",
    )
    email_enabled: bool = True
    email_address: EmailStr | None = Field(None, description="Default: the account's email")
    telegram_channel_ids: list[str] = Field(
        default_factory=list, description="Telegram channels (chats) that get a message"
    )
    webhook_channel_ids: list[str] = Field(
        default_factory=list, description="Webhook channels that get a POST"
    )


class NotificationSettingsOut(Schema):
    events: list[str]
    email_enabled: bool
    email_address: str | None
    email_available: bool = Field(description="False when this server has no SMTP configured")
    telegram_channel_ids: list[str]
    webhook_channel_ids: list[str]
    updated_at: datetime | None


class DeliveryOut(Schema):
    id: str
    transport: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


class EventOut(Schema):
    id: str
    type: str
    subject_id: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = Field(description="When you marked it read in the inbox; null: unread")
    deliveries: list[DeliveryOut] = []


class MarkedRead(Schema):
    marked: int = Field(description="How many unread notifications this marked read")
