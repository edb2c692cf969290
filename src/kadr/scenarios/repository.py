"""Every query on scenarios, their versions and shares.

A scenario is reached by its owner or by a user it is shared with (`accessible_*`); the
worker-side reads, which act on a job's own scenario, are `get_unscoped`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from kadr.core.pagination import PageResult
from kadr.core.repository import Repository, newest_first
from kadr.scenarios.models import Role, Scenario, ScenarioShare, ScenarioStatus, ScenarioVersion, ShareKind


def _live(now: datetime) -> ColumnElement[bool]:
    """A share that is neither revoked nor expired."""
    return and_(
        ScenarioShare.revoked_at.is_(None),
        or_(ScenarioShare.expires_at.is_(None), ScenarioShare.expires_at > now),
    )


class ScenarioRepository(Repository[Scenario]):
    # The worker writes progress and content under the API: never answer from a stale copy.
    model = Scenario
    fresh = True

    async def find_by_idempotency_key(self, owner_id: str, key: str) -> Scenario | None:
        result = await self.session.execute(
            select(Scenario).where(Scenario.owner_id == owner_id, Scenario.idempotency_key == key)
        )
        return result.scalar_one_or_none()

    # --- what a user may reach ------------------------------------------------------

    async def grant(self, scenario_id: str, user_id: str, now: datetime) -> ScenarioShare | None:
        """The live share of `scenario_id` with `user_id` (there is at most one)."""
        result = await self.session.execute(
            select(ScenarioShare)
            .where(
                ScenarioShare.scenario_id == scenario_id,
                ScenarioShare.kind == ShareKind.USER,
                ScenarioShare.user_id == user_id,
                _live(now),
            )
            .order_by(ScenarioShare.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def accessible_page(
        self,
        user_id: str,
        limit: int,
        offset: int,
        now: datetime,
        *,
        status: str | None = None,
        language: str | None = None,
        platform: str | None = None,
        title_contains: str | None = None,
    ) -> PageResult[tuple[Scenario, Role]]:
        """The user's scenarios and those shared with them, newest first, with their role."""
        grant = and_(
            ScenarioShare.scenario_id == Scenario.id,
            ScenarioShare.kind == ShareKind.USER,
            ScenarioShare.user_id == user_id,
            _live(now),
        )
        where: list[ColumnElement[bool]] = [or_(Scenario.owner_id == user_id, ScenarioShare.id.is_not(None))]
        if status:
            where.append(Scenario.status == status)
        if language:
            where.append(Scenario.language == language)
        if platform:
            where.append(Scenario.platform == platform)
        if title_contains:
            where.append(Scenario.title_folded.contains(title_contains.casefold(), autoescape=True))
        query = select(Scenario, ScenarioShare.role).outerjoin(ScenarioShare, grant).where(*where)
        total = (await self.session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await self.session.execute(
            query.order_by(*newest_first(Scenario))
            .limit(limit)
            .offset(offset)
            .execution_options(populate_existing=True)
        )
        items = [
            (scenario, Role.OWNER if scenario.owner_id == user_id else Role(role))
            for scenario, role in rows.all()
        ]
        return PageResult(items, int(total))

    # --- state ------------------------------------------------------------------------

    async def raise_progress(self, scenario_id: str, progress: float) -> bool:
        """Progress only grows (a retried answer starts counting again from zero)."""
        return await self.update(
            scenario_id,
            Scenario.progress < progress,
            when_status=ScenarioStatus.GENERATING,
            progress=progress,
        )

    # --- versions ---------------------------------------------------------------------

    async def versions_page(self, scenario_id: str, limit: int, offset: int) -> PageResult[ScenarioVersion]:
        where = ScenarioVersion.scenario_id == scenario_id
        total = (
            await self.session.execute(select(func.count()).select_from(ScenarioVersion).where(where))
        ).scalar_one()
        rows = await self.session.execute(
            select(ScenarioVersion)
            .where(where)
            .order_by(ScenarioVersion.number.desc())
            .limit(limit)
            .offset(offset)
        )
        return PageResult(rows.scalars().all(), int(total))

    async def version(self, scenario_id: str, number: int) -> ScenarioVersion | None:
        result = await self.session.execute(
            select(ScenarioVersion).where(
                ScenarioVersion.scenario_id == scenario_id, ScenarioVersion.number == number
            )
        )
        return result.scalar_one_or_none()

    # --- shares -----------------------------------------------------------------------

    async def shares_page(self, scenario_id: str, limit: int, offset: int) -> PageResult[ScenarioShare]:
        where = ScenarioShare.scenario_id == scenario_id
        total = (
            await self.session.execute(select(func.count()).select_from(ScenarioShare).where(where))
        ).scalar_one()
        rows = await self.session.execute(
            select(ScenarioShare)
            .where(where)
            .order_by(*newest_first(ScenarioShare))
            .limit(limit)
            .offset(offset)
        )
        return PageResult(rows.scalars().all(), int(total))

    async def share(self, scenario_id: str, share_id: str) -> ScenarioShare | None:
        result = await self.session.execute(
            select(ScenarioShare).where(
                ScenarioShare.id == share_id, ScenarioShare.scenario_id == scenario_id
            )
        )
        return result.scalar_one_or_none()

    async def live_link(self, token_hash: str, now: datetime) -> ScenarioShare | None:
        """The link share whose token hashes to `token_hash`, if it is neither revoked nor expired."""
        result = await self.session.execute(
            select(ScenarioShare).where(
                ScenarioShare.token_hash == token_hash, ScenarioShare.kind == ShareKind.LINK, _live(now)
            )
        )
        return result.scalar_one_or_none()
