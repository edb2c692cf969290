"""Emit domain events (outbox) and deliver them by email, Telegram and signed webhooks.

`emit` writes the event, one delivery per target and one `notify.deliver` job per delivery
into the caller's transaction: the notification exists exactly when the change that caused
it was committed, and the job system retries each delivery until it lands or dies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.repository import AccountRepository
from kadr.channels.models import Channel, ChannelKind
from kadr.channels.repository import ChannelRepository
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.crypto import secret_box
from kadr.core.errors import PermanentJobError, RetryLater, ValidationFailed
from kadr.core.ids import new_id
from kadr.core.logging import get_logger
from kadr.jobs import service as jobs
from kadr.notifications.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    NotificationSettings,
    Transport,
)
from kadr.notifications.repository import NotificationRepository
from kadr.notifications.schemas import DeliveryOut, EventOut, NotificationSettingsIn, NotificationSettingsOut
from kadr.providers import smtp, telegram, webhooks

log = get_logger(__name__)

DELIVER_JOB_KIND = "notify.deliver"
ALL_EVENT_TYPES = [str(event_type) for event_type in EventType]

_TITLES: dict[str, str] = {
    EventType.RUN_SUCCEEDED: "Run finished",
    EventType.RUN_FAILED: "Run failed",
    EventType.RUN_DEAD: "Run gave up after retries",
    EventType.PUBLICATION_PUBLISHED: "Published",
    EventType.PUBLICATION_FAILED: "Publication failed",
    EventType.CHANNEL_NEEDS_REAUTH: "Channel needs to be reconnected",
}


def smtp_config(settings: Settings) -> smtp.SmtpConfig | None:
    if not settings.smtp_host:
        return None
    return smtp.SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        sender=settings.smtp_sender,
    )


def render(event: Event) -> tuple[str, str]:
    """Subject and plain text of an event, for people (email, Telegram)."""
    data = event.data
    title = _TITLES.get(event.type, event.type)  # StrEnum keys match the stored strings
    lines = [f"kadr: {title}"]
    for label, key in (
        ("Title", "title"),
        ("Channel", "channel_name"),
        ("Video", "filename"),
        ("Profile", "profile"),
        ("Link", "url"),
        ("Scheduled for", "publish_at"),
        ("Reason", "reason"),
        ("Error", "error"),
    ):
        if data.get(key):
            lines.append(f"{label}: {data[key]}")
    lines.append(f"Event {event.id} ({event.type}) at {event.created_at.isoformat()}")
    subject_name = data.get("title") or data.get("channel_name") or data.get("filename") or event.subject_id
    return f"[kadr] {title}: {subject_name}", "\n".join(lines)


def webhook_payload(event: Event) -> dict[str, Any]:
    """The Standard Webhooks body: type, timestamp, data."""
    return {
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": {"event_id": event.id, "subject_id": event.subject_id, **event.data},
    }


async def emit(
    session: AsyncSession,
    settings: Settings,
    owner_id: str,
    event_type: EventType,
    subject_id: str,
    data: dict[str, Any],
) -> Event:
    """Record an event and its deliveries in the caller's transaction (the caller commits)."""
    repository = NotificationRepository(session)
    event = Event(id=new_id("evt"), owner_id=owner_id, type=str(event_type), subject_id=subject_id, data=data)
    repository.add(event)
    preferences = await repository.settings_of(owner_id)
    wanted = preferences.events if preferences is not None else ALL_EVENT_TYPES
    if str(event_type) not in wanted:
        return event
    targets: list[tuple[Transport, str]] = []
    if (preferences is None or preferences.email_enabled) and smtp_config(settings) is not None:
        address = preferences.email_address if preferences is not None else None
        if not address:
            user = await AccountRepository(session).user(owner_id)
            address = user.email if user is not None else None
        if address:
            targets.append((Transport.EMAIL, address))
    if preferences is not None:
        targets += [(Transport.TELEGRAM, channel_id) for channel_id in preferences.telegram_channel_ids]
        targets += [(Transport.WEBHOOK, channel_id) for channel_id in preferences.webhook_channel_ids]
    for transport, target in targets:
        delivery = Delivery(
            id=new_id("dlv"), event_id=event.id, owner_id=owner_id, transport=transport, target=target
        )
        job = await jobs.enqueue(
            session,
            settings,
            DELIVER_JOB_KIND,
            {"delivery_id": delivery.id},
            owner_id=owner_id,
            max_attempts=settings.notify_max_attempts,
        )
        delivery.job_id = job.id
        repository.add(delivery)
    return event


class NotificationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repository = NotificationRepository(session)

    # --- settings ------------------------------------------------------------
    async def get_settings(self, owner_id: str) -> NotificationSettingsOut:
        stored = await self.repository.settings_of(owner_id)
        return NotificationSettingsOut(
            events=stored.events if stored else ALL_EVENT_TYPES,
            email_enabled=stored.email_enabled if stored else True,
            email_address=stored.email_address if stored else None,
            email_available=smtp_config(self.settings) is not None,
            telegram_channel_ids=stored.telegram_channel_ids if stored else [],
            webhook_channel_ids=stored.webhook_channel_ids if stored else [],
            updated_at=stored.updated_at if stored else None,
        )

    async def update_settings(self, owner_id: str, body: NotificationSettingsIn) -> NotificationSettingsOut:
        channels = ChannelRepository(self.session)
        for kind, wanted in (
            (ChannelKind.TELEGRAM, body.telegram_channel_ids),
            (ChannelKind.WEBHOOK, body.webhook_channel_ids),
        ):
            found = {c.id for c in await channels.owned_of_kind(owner_id, kind, wanted)}
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
        self, owner_id: str, limit: int, offset: int, event_type: str | None, since: datetime | None
    ) -> tuple[list[EventOut], int]:
        events, total = await self.repository.events_page(owner_id, limit, offset, event_type, since)
        deliveries = await self.repository.deliveries_of([event.id for event in events])
        by_event: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_event.setdefault(delivery.event_id, []).append(delivery)
        items = []
        for event in events:
            item = EventOut.model_validate(event)
            item.deliveries = [DeliveryOut.model_validate(d) for d in by_event.get(event.id, [])]
            items.append(item)
        return items, total

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
            channel = await ChannelRepository(self.session).get_unscoped(delivery.target)
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

    async def _send(self, delivery: Delivery, event: Event, channel: Channel | None) -> str:
        settings = self.settings
        if delivery.transport == Transport.EMAIL:
            config = smtp_config(settings)
            if config is None:
                raise PermanentJobError("email is not configured on this server (KADR_SMTP_HOST)")
            subject, text = render(event)
            return await smtp.send_email(config, delivery.target, subject, text)
        assert channel is not None
        secrets = secret_box(settings).decrypt(channel.secrets)
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
