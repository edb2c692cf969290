"""Every query of the channels domain, scoped to an owner unless named otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_

from kadr.channels.models import Channel, OAuthState
from kadr.core.pagination import PageResult
from kadr.core.repository import Repository


class ChannelRepository(Repository[Channel]):
    # Health checks and upload slots change channels under us (other workers).
    model = Channel
    fresh = True

    async def owned_of_kind(self, owner_id: str, kind: str, channel_ids: Sequence[str]) -> Sequence[Channel]:
        if not channel_ids:
            return []
        return await self.list(owner_id, Channel.kind == kind, Channel.id.in_(channel_ids))

    async def find_external(self, owner_id: str, kind: str, external_id: str) -> Channel | None:
        found = await self.list(owner_id, Channel.kind == kind, Channel.external_id == external_id, limit=1)
        return found[0] if found else None

    async def list_page(
        self, owner_id: str, limit: int, offset: int, *, kind: str | None = None
    ) -> PageResult[Channel]:
        return await self._page(owner_id, limit, offset, *([Channel.kind == kind] if kind else []))

    async def claim_slot(self, channel_id: str, now: datetime, next_slot: datetime) -> bool:
        """Take the channel's next upload slot if it is free at `now` (one winner among workers)."""
        free = or_(Channel.next_slot_at.is_(None), Channel.next_slot_at <= now)
        return await self.update(channel_id, free, next_slot_at=next_slot)

    async def claim_check(self, channel_id: str, now: datetime, checked_before: datetime) -> bool:
        """Mark the channel as being checked unless it was checked after `checked_before`."""
        due = or_(Channel.checked_at.is_(None), Channel.checked_at < checked_before)
        return await self.update(channel_id, due, checked_at=now)

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
