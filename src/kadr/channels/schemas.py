"""Channel requests and responses. Secrets go in, never come out (except a webhook's, once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from kadr.core.schemas import Schema


class ChannelOut(Schema):
    id: str
    kind: str
    name: str
    external_id: str | None
    config: dict[str, Any]
    status: str = Field(description="ok | needs_reauth | error")
    status_reason: str | None
    checked_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookChannelOut(ChannelOut):
    signing_secret: str | None = Field(
        None, description="Shown once, at creation: verify deliveries with it (Standard Webhooks)"
    )


class TelegramChannelIn(BaseModel):
    name: str | None = Field(None, max_length=200, description="Default: the chat's title")
    bot_token: SecretStr = Field(description="From @BotFather; the bot must be a member (admin of channels)")
    chat_id: str = Field(
        min_length=1, max_length=64, description="Numeric chat id (-100…) or @channelusername"
    )


class WebhookChannelIn(BaseModel):
    name: str = Field(max_length=200)
    url: str = Field(max_length=2048, description="https URL that receives signed POSTs")
    signing_secret: str | None = Field(
        None, description="whsec_… (base64 after the prefix); generated when omitted"
    )


class ConnectOut(BaseModel):
    authorization_url: str = Field(description="Open in a browser signed in to the Google account")
    expires_at: datetime
