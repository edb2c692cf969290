"""Notification settings, the event log, and delivering one notification by email, Telegram or
a signed webhook. Events come in through the outbox (`outbox.emit`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import NotFound, PermanentJobError, RetryLater, ValidationFailed
from kadr.core.logging import get_logger
from kadr.core.pagination import Page, PageResult
from kadr.notifications.models import (
    DEFAULT_EVENT_TYPES,
    Delivery,
    DeliveryStatus,
    Event,
    NotificationSettings,
    Transport,
)
from kadr.notifications.outbox import render, smtp_config, webhook_payload
from kadr.notifications.ports import Destination, channel_directory
from kadr.notifications.repository import NotificationRepository
from kadr.notifications.schemas import DeliveryOut, EventOut, NotificationSettingsIn, NotificationSettingsOut
from kadr.providers import smtp, telegram, webhooks

log = get_logger(__name__)


class NotificationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repository = NotificationRepository(session)

    # --- settings ------------------------------------------------------------
    async def get_settings(self, owner_id: str) -> NotificationSettingsOut:
        stored = await self.repository.settings_of(owner_id)
        return NotificationSettingsOut(
            events=stored.events if stored else DEFAULT_EVENT_TYPES,
            email_enabled=stored.email_enabled if stored else True,
            email_address=stored.email_address if stored else None,
            email_available=smtp_config(self.settings) is not None,
            telegram_channel_ids=stored.telegram_channel_ids if stored else [],
            webhook_channel_ids=stored.webhook_channel_ids if stored else [],
            updated_at=stored.updated_at if stored else None,
        )

    async def update_settings(self, owner_id: str, body: NotificationSettingsIn) -> NotificationSettingsOut:
        channels = channel_directory()
        # A Telegram or webhook transport goes through the owner's channel of the same kind.
        for kind, wanted in (
            (Transport.TELEGRAM, body.telegram_channel_ids),
            (Transport.WEBHOOK, body.webhook_channel_ids),
        ):
            found = await channels.owned(self.session, owner_id, kind, wanted)
            missing = [channel_id for channel_id in wanted if channel_id not in found]
            if missing:
                raise ValidationFailed(
                    f"no {kind} channel {', '.join(missing)}: connect it under /v1/channels first",
                    field=f"{kind}_channel_ids",
                )
        stored = await self.repository.settings_of(owner_id)
        if stored is None:
            stored = NotificationSettings(owner_id=owner_id)
            self.repository.add(stored)
        stored.events = sorted({str(event_type) for event_type in body.events})
        stored.email_enabled = body.email_enabled
        stored.email_address = str(body.email_address) if body.email_address else None
        stored.telegram_channel_ids = list(dict.fromkeys(body.telegram_channel_ids))
        stored.webhook_channel_ids = list(dict.fromkeys(body.webhook_channel_ids))
        stored.updated_at = utcnow()
        await self.session.commit()
        return await self.get_settings(owner_id)

    async def events_page(
        self,
        owner_id: str,
        page: Page,
        event_type: str | None = None,
        since: datetime | None = None,
        unread: bool = False,
    ) -> PageResult[EventOut]:
        """The owner's events (the inbox), newest first, each with its read state and deliveries."""
        events, total = await self.repository.list_page(
            owner_id, page.limit, page.offset, event_type=event_type, since=since, unread=unread
        )
        return PageResult(await self._with_deliveries(events), total)

    async def mark_read(self, owner_id: str, event_id: str) -> EventOut:
        """Mark one of the owner's events read (again is a no-op: it keeps the first time);
        anyone else's id is 404."""
        await self.repository.mark_read(owner_id, event_id, utcnow())
        event = await self.repository.get(owner_id, event_id)
        if event is None:
            raise NotFound(f"no notification {event_id}")
        await self.session.commit()
        [item] = await self._with_deliveries([event])
        return item

    async def mark_all_read(self, owner_id: str) -> int:
        """Mark every unread event of the owner read; how many that was."""
        marked = await self.repository.mark_all_read(owner_id, utcnow())
        await self.session.commit()
        return marked

    async def _with_deliveries(self, events: Sequence[Event]) -> list[EventOut]:
        deliveries = await self.repository.deliveries_of([event.id for event in events])
        by_event: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_event.setdefault(delivery.event_id, []).append(delivery)
        items = []
        for event in events:
            item = EventOut.model_validate(event)
            item.deliveries = [DeliveryOut.model_validate(d) for d in by_event.get(event.id, [])]
            items.append(item)
        return items

    # --- delivery (worker) ----------------------------------------------------
    async def deliver(self, delivery_id: str) -> dict[str, Any]:
        """Send one delivery. Raises PermanentJobError / RetryLater / transient errors for the job system."""
        found = await self.repository.delivery_with_event(delivery_id)
        if found is None:
            raise PermanentJobError(f"delivery {delivery_id} is gone")
        delivery, event = found
        if delivery.status != DeliveryStatus.PENDING:
            return {"skipped": f"delivery is {delivery.status}"}
        channel = None
        if delivery.transport != Transport.EMAIL:
            channel = await channel_directory().destination(self.session, self.settings, delivery.target)
            if channel is None or channel.owner_id != delivery.owner_id:
                raise PermanentJobError(f"{delivery.transport} channel {delivery.target} no longer exists")
        # Nothing is held open while the provider answers.
        await self.session.commit()
        try:
            receipt = await self._send(delivery, event, channel)
        except Exception as exc:
            await self.repository.count_attempt(delivery_id, f"{type(exc).__name__}: {exc}"[:2000])
            await self.session.commit()
            raise _classified(exc) from exc
        await self.repository.update_delivery(
            delivery_id,
            status=DeliveryStatus.DELIVERED,
            delivered_at=utcnow(),
            attempts=delivery.attempts + 1,
            last_error=None,
        )
        await self.session.commit()
        return {"delivered": delivery.transport, "receipt": receipt}

    async def give_up(self, delivery_id: str, error: str) -> None:
        """The delivery's job failed for good (the caller's transaction marks the job too)."""
        await self.repository.update_delivery(
            delivery_id, status=DeliveryStatus.FAILED, last_error=error[:2000]
        )

    async def _send(self, delivery: Delivery, event: Event, channel: Destination | None) -> str:
        settings = self.settings
        if delivery.transport == Transport.EMAIL:
            config = smtp_config(settings)
            if config is None:
                raise PermanentJobError("email is not configured on this server (KADR_SMTP_HOST)")
            subject, text = render(event)
            return await smtp.send_email(config, delivery.target, subject, text)
        assert channel is not None
        secrets = channel.secrets
        if delivery.transport == Transport.TELEGRAM:
            _, text = render(event)
            async with telegram.TelegramClient(
                secrets["bot_token"], api_url=settings.telegram_api_url
            ) as bot:
                message = await bot.send_message(channel.config["chat_id"], text)
            return str(message.get("message_id", ""))
        status = await webhooks.deliver(
            channel.config["url"],
            secrets["signing_secret"],
            delivery.id,
            webhook_payload(event),
            allowed_private=settings.allowed_private_hosts,
        )
        return str(status)


def _classified(exc: Exception) -> Exception:
    """Map a provider error to what the job system should do with it."""
    if isinstance(exc, telegram.TelegramRetryAfter):
        return RetryLater(exc.retry_after, f"Telegram asked to wait {exc.retry_after:g} s")
    permanent = (
        smtp.EmailPermanentError,
        telegram.TelegramPermanentError,
        webhooks.WebhookPermanentError,
        PermanentJobError,
    )
    if isinstance(exc, permanent):
        return PermanentJobError(str(exc))
    return exc
