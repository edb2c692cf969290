"""Every query of the channels domain, scoped to an owner unless named otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.channels.models import Channel, OAuthState


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, owner_id: str, channel_id: str) -> Channel | None:
        query = select(Channel).where(Channel.id == channel_id, Channel.owner_id == owner_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get_unscoped(self, channel_id: str) -> Channel | None:
        """For workers, which act for whoever owns the job."""
        return await self.session.get(Channel, channel_id, populate_existing=True)

    async def owned_of_kind(self, owner_id: str, kind: str, channel_ids: Sequence[str]) -> Sequence[Channel]:
        if not channel_ids:
            return []
        query = select(Channel).where(
            Channel.owner_id == owner_id, Channel.kind == kind, Channel.id.in_(channel_ids)
        )
        return (await self.session.execute(query)).scalars().all()

    async def find_external(self, owner_id: str, kind: str, external_id: str) -> Channel | None:
        query = select(Channel).where(
            Channel.owner_id == owner_id, Channel.kind == kind, Channel.external_id == external_id
        )
        return (await self.session.execute(query.limit(1))).scalar_one_or_none()

    async def list_page(
        self, owner_id: str, limit: int, offset: int, kind: str | None
    ) -> tuple[Sequence[Channel], int]:
        conditions = [Channel.owner_id == owner_id]
        if kind:
            conditions.append(Channel.kind == kind)
        total = await self.session.execute(select(func.count()).select_from(Channel).where(*conditions))
        rows = await self.session.execute(
            select(Channel)
            .where(*conditions)
            .order_by(Channel.created_at, Channel.id)
            .limit(limit)
            .offset(offset)
        )
        return rows.scalars().all(), int(total.scalar_one())

    def add(self, row: Channel | OAuthState) -> None:
        self.session.add(row)

    async def delete(self, channel: Channel) -> None:
        await self.session.delete(channel)

    async def update(self, channel_id: str, *, when_status: str | None = None, **values: Any) -> bool:
        query = update(Channel).where(Channel.id == channel_id)
        if when_status is not None:
            query = query.where(Channel.status == when_status)
        outcome = await self.session.execute(query.values(**values).returning(Channel.id))
        return outcome.scalar_one_or_none() is not None

    async def claim_slot(self, channel_id: str, now: datetime, next_slot: datetime) -> bool:
        """Take the channel's next upload slot if it is free at `now` (one winner among workers)."""
        outcome = await self.session.execute(
            update(Channel)
            .where(Channel.id == channel_id, or_(Channel.next_slot_at.is_(None), Channel.next_slot_at <= now))
            .values(next_slot_at=next_slot)
            .returning(Channel.id)
        )
        return outcome.scalar_one_or_none() is not None

    async def claim_check(self, channel_id: str, now: datetime, checked_before: datetime) -> bool:
        """Mark the channel as being checked unless it was checked after `checked_before`."""
        outcome = await self.session.execute(
            update(Channel)
            .where(
                Channel.id == channel_id,
                or_(Channel.checked_at.is_(None), Channel.checked_at < checked_before),
            )
            .values(checked_at=now)
            .returning(Channel.id)
        )
        return outcome.scalar_one_or_none() is not None

    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        """The pending consent for this state, deleted as it is read: a state works once."""
        state = await self.session.get(OAuthState, state_hash)
        if state is None:
            return None
        outcome = await self.session.execute(
            delete(OAuthState).where(OAuthState.state_hash == state_hash).returning(OAuthState.state_hash)
        )
        if outcome.scalar_one_or_none() is None:
            return None
        return state

    async def delete_expired_oauth_states(self, now: datetime) -> int:
        outcome = await self.session.execute(
            delete(OAuthState).where(OAuthState.expires_at < now).returning(OAuthState.state_hash)
        )
        return len(outcome.all())
