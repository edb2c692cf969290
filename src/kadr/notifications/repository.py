"""Every query of the notifications domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.notifications.models import Delivery, DeliveryStatus, Event, NotificationSettings


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def settings_of(self, owner_id: str) -> NotificationSettings | None:
        return await self.session.get(NotificationSettings, owner_id)

    def add(self, row: Event | Delivery | NotificationSettings) -> None:
        self.session.add(row)

    async def delivery_with_event(self, delivery_id: str) -> tuple[Delivery, Event] | None:
        row = (
            await self.session.execute(
                select(Delivery, Event)
                .join(Event, Event.id == Delivery.event_id)
                .where(Delivery.id == delivery_id)
            )
        ).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def update_delivery(self, delivery_id: str, *, when_pending: bool = True, **values: Any) -> bool:
        query = update(Delivery).where(Delivery.id == delivery_id)
        if when_pending:
            query = query.where(Delivery.status == DeliveryStatus.PENDING)
        outcome = await self.session.execute(query.values(**values).returning(Delivery.id))
        return outcome.scalar_one_or_none() is not None

    async def count_attempt(self, delivery_id: str, error: str | None) -> None:
        await self.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(attempts=Delivery.attempts + 1, last_error=error)
        )

    async def events_page(
        self, owner_id: str, limit: int, offset: int, event_type: str | None, since: datetime | None
    ) -> tuple[Sequence[Event], int]:
        conditions = [Event.owner_id == owner_id]
        if event_type:
            conditions.append(Event.type == event_type)
        if since is not None:
            conditions.append(Event.created_at >= since)
        total = (
            await self.session.execute(select(func.count()).select_from(Event).where(*conditions))
        ).scalar_one()
        events = (
            (
                await self.session.execute(
                    select(Event)
                    .where(*conditions)
                    .order_by(Event.created_at.desc(), Event.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
            .scalars()
            .all()
        )
        return events, int(total)

    async def deliveries_of(self, event_ids: Sequence[str]) -> Sequence[Delivery]:
        if not event_ids:
            return []
        query = select(Delivery).where(Delivery.event_id.in_(event_ids)).order_by(Delivery.created_at)
        return (await self.session.execute(query)).scalars().all()
