"""Every query of the notifications domain, scoped to an owner unless named otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update

from kadr.core.pagination import PageResult
from kadr.core.repository import Repository
from kadr.notifications.models import Delivery, DeliveryStatus, Event, NotificationSettings


class NotificationRepository(Repository[Event]):
    model = Event

    async def settings_of(self, owner_id: str) -> NotificationSettings | None:
        return await self.session.get(NotificationSettings, owner_id)

    async def list_page(
        self,
        owner_id: str,
        limit: int,
        offset: int,
        *,
        event_type: str | None = None,
        since: datetime | None = None,
        unread: bool = False,
    ) -> PageResult[Event]:
        """The owner's events, newest first; of one type, at or after `since`, not yet read."""
        where: list[ColumnElement[bool]] = [Event.type == event_type] if event_type else []
        if since is not None:
            where.append(Event.created_at >= since)
        if unread:
            where.append(Event.read_at.is_(None))
        return await self._page(owner_id, limit, offset, *where)

    async def mark_read(self, owner_id: str, event_id: str, when: datetime) -> bool:
        """Mark one of the owner's events read, unless it already is (it keeps its first time)."""
        return await self.update(event_id, self._owner_is(owner_id), Event.read_at.is_(None), read_at=when)

    async def mark_all_read(self, owner_id: str, when: datetime) -> int:
        """Mark every unread event of the owner read; how many that was."""
        outcome = await self.session.execute(
            update(Event).where(self._owner_is(owner_id), Event.read_at.is_(None)).values(read_at=when)
        )
        return int(outcome.rowcount or 0)  # type: ignore[attr-defined]

    async def delivery_with_event(self, delivery_id: str) -> tuple[Delivery, Event] | None:
        row = (
            await self.session.execute(
                select(Delivery, Event)
                .join(Event, Event.id == Delivery.event_id)
                .where(Delivery.id == delivery_id)
            )
        ).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def update_delivery(self, delivery_id: str, **values: Any) -> bool:
        """Settle a delivery that is still pending (one winner, should two attempts race)."""
        return await self._update(Delivery, delivery_id, when_status=DeliveryStatus.PENDING, **values)

    async def count_attempt(self, delivery_id: str, error: str | None) -> None:
        await self.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(attempts=Delivery.attempts + 1, last_error=error)
        )

    async def deliveries_of(self, event_ids: Sequence[str]) -> Sequence[Delivery]:
        if not event_ids:
            return []
        query = select(Delivery).where(Delivery.event_id.in_(event_ids)).order_by(Delivery.created_at)
        return (await self.session.execute(query)).scalars().all()
