"""The outbox: domain events, and the deliveries they fan out to, written in the caller's transaction.

`emit` writes the event, one delivery per target and one `notify.deliver` job per delivery
into the caller's transaction: the notification exists exactly when the change that caused
it was committed, and the job system retries each delivery until it lands or dies. Every
domain tells its news this way instead of importing the domains that care about it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import User
from kadr.accounts.ports import provide_account_events
from kadr.accounts.repository import AccountRepository
from kadr.config import Settings
from kadr.core.ids import new_id
from kadr.jobs import service as jobs
from kadr.notifications.models import DEFAULT_EVENT_TYPES, Delivery, Event, EventType, Transport
from kadr.notifications.repository import NotificationRepository
from kadr.providers import smtp

DELIVER_JOB_KIND = "notify.deliver"
ALL_EVENT_TYPES = [str(event_type) for event_type in EventType]

_TITLES: dict[str, str] = {
    EventType.RUN_SUCCEEDED: "Run finished",
    EventType.RUN_FAILED: "Run failed",
    EventType.RUN_DEAD: "Run gave up after retries",
    EventType.RUN_AWAITING_REVIEW: "Run waits for your review",
    EventType.PUBLICATION_PUBLISHED: "Published",
    EventType.PUBLICATION_FAILED: "Publication failed",
    EventType.CHANNEL_NEEDS_REAUTH: "Channel needs to be reconnected",
    EventType.USER_REGISTERED: "Welcome to kadr",
    EventType.SCENARIO_GENERATED: "Scenario written",
    EventType.SCENARIO_SHARED: "Scenario shared",
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
        ("Account", "email"),
        ("Video", "filename"),
        ("Profile", "profile"),
        ("Shared by", "shared_by"),
        ("Role", "role"),
        ("Link", "url"),
        ("Scheduled for", "publish_at"),
        ("Reason", "reason"),
        ("Error", "error"),
    ):
        if data.get(key):
            lines.append(f"{label}: {data[key]}")
    lines.append(f"Event {event.id} ({event.type}) at {event.created_at.isoformat()}")
    subject_name = (
        data.get("title")
        or data.get("channel_name")
        or data.get("filename")
        or data.get("email")
        or event.subject_id
    )
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
    wanted = preferences.events if preferences is not None else DEFAULT_EVENT_TYPES
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


class _OutboxAccountEvents:
    """The accounts domain's news (accounts.ports), told through this outbox."""

    async def registered(self, session: AsyncSession, settings: Settings, user: User) -> None:
        data = {"user_id": user.id, "email": user.email, "display_name": user.display_name}
        await emit(session, settings, user.id, EventType.USER_REGISTERED, user.id, data)


provide_account_events(_OutboxAccountEvents())
