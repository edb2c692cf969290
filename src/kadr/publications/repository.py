"""Every query of the publications domain, scoped to an owner unless named otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kadr.channels.models import Channel, ChannelHealth
from kadr.core.pagination import PageResult
from kadr.core.repository import Repository
from kadr.publications.models import Publication, PublicationStatus, QuotaUsage


class PublicationRepository(Repository[Publication]):
    # Workers move publications through their states under us.
    model = Publication
    fresh = True

    def page_order(self) -> tuple[ColumnElement[Any], ...]:
        # A schedule: soonest first, not newest-created first.
        return (Publication.publish_at.asc(), Publication.id.asc())

    async def find_by_idempotency_key(self, owner_id: str, key: str) -> Publication | None:
        query = select(Publication).where(
            Publication.owner_id == owner_id, Publication.idempotency_key == key
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def list_page(
        self,
        owner_id: str,
        limit: int,
        offset: int,
        *,
        status: str | None = None,
        channel_id: str | None = None,
        publish_after: datetime | None = None,
        publish_before: datetime | None = None,
    ) -> PageResult[Publication]:
        where: list[ColumnElement[bool]] = []
        if status:
            where.append(Publication.status == status)
        if channel_id:
            where.append(Publication.channel_id == channel_id)
        if publish_after is not None:
            where.append(Publication.publish_at >= publish_after)
        if publish_before is not None:
            where.append(Publication.publish_at < publish_before)
        return await self._page(owner_id, limit, offset, *where)

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        query = (
            select(Publication.id)
            .where(Publication.status == PublicationStatus.SCHEDULED, Publication.publish_at <= now)
            .order_by(Publication.publish_at)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def needing_preflight(self, until: datetime, limit: int) -> Sequence[tuple[str, str]]:
        """(publication id, channel id) of scheduled slots inside the window not yet checked for."""
        query = (
            select(Publication.id, Publication.channel_id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(
                Publication.status == PublicationStatus.SCHEDULED,
                Publication.preflight_at.is_(None),
                Publication.publish_at <= until,
                Channel.status == ChannelHealth.OK,
            )
            .order_by(Publication.publish_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(query)).all()]

    async def claim_preflight(self, publication_id: str, now: datetime) -> bool:
        return await self.update(publication_id, Publication.preflight_at.is_(None), preflight_at=now)

    async def next_slot_of_channel(self, channel_id: str) -> datetime | None:
        query = select(func.min(Publication.publish_at)).where(
            Publication.channel_id == channel_id, Publication.status == PublicationStatus.SCHEDULED
        )
        value: datetime | None = (await self.session.execute(query)).scalar_one_or_none()
        return value

    # --- quota ledger --------------------------------------------------------------
    async def reserve_quota(
        self, project: str, day: str, costs: dict[str, int], limits: dict[str, int]
    ) -> bool:
        """Spend `costs` (units per bucket) of the day's budget, all or nothing (the caller commits
        on True; on False nothing was spent)."""
        for bucket in costs:
            await self._ensure_quota_row(project, bucket, day)
        async with self.session.begin_nested() as savepoint:
            for bucket, cost in costs.items():
                outcome = await self.session.execute(
                    update(QuotaUsage)
                    .where(
                        QuotaUsage.project == project,
                        QuotaUsage.bucket == bucket,
                        QuotaUsage.day == day,
                        QuotaUsage.units + cost <= limits[bucket],
                    )
                    .values(units=QuotaUsage.units + cost)
                    .returning(QuotaUsage.units)
                )
                if outcome.scalar_one_or_none() is None:
                    await savepoint.rollback()
                    return False
        return True

    async def exhaust_quota(self, project: str, day: str, bucket: str, limit: int) -> None:
        """The provider said the budget is gone: believe it for the rest of its day."""
        await self._ensure_quota_row(project, bucket, day)
        await self.session.execute(
            update(QuotaUsage)
            .where(QuotaUsage.project == project, QuotaUsage.bucket == bucket, QuotaUsage.day == day)
            .values(
                units=func.max(QuotaUsage.units, limit)
                if self._dialect == "sqlite"
                else func.greatest(QuotaUsage.units, limit)
            )
        )

    async def quota_used(self, project: str, day: str) -> dict[str, int]:
        query = select(QuotaUsage.bucket, QuotaUsage.units).where(
            QuotaUsage.project == project, QuotaUsage.day == day
        )
        return {row[0]: int(row[1]) for row in (await self.session.execute(query)).all()}

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def _ensure_quota_row(self, project: str, bucket: str, day: str) -> None:
        insert = sqlite_insert if self._dialect == "sqlite" else pg_insert
        await self.session.execute(
            insert(QuotaUsage)
            .values(project=project, bucket=bucket, day=day, units=0)
            .on_conflict_do_nothing()
        )
