"""Every query on profiles, runs, run components and artifacts, scoped to an owner
(the worker-side reads, which act on a job's own run, say so in their names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, bindparam, delete, func, select, update

from kadr.core.db import Database
from kadr.core.pagination import PageResult
from kadr.core.repository import Repository
from kadr.pipeline.base import UNFINISHED_COMPONENT_STATUSES, ComponentStatus
from kadr.runs.models import Artifact, Profile, Run, RunComponent, RunStatus

#: What a run's status shows (RunOut without its components, and each component's ComponentOut).
_STATUS_RUN_COLUMNS = tuple(
    getattr(Run, name)
    for name in (
        "id", "video_id", "profile_name", "status", "progress", "error", "config_hash", "config",
        "versions", "review", "reviewed", "cached_from_run_id", "parent_run_id", "job_id", "created_at",
        "started_at", "finished_at",
    )
)  # fmt: skip
_STATUS_COMPONENT_COLUMNS = tuple(
    getattr(RunComponent, name)
    for name in (
        "name", "status", "progress", "message", "attempts", "device", "summary", "error",
        "started_at", "finished_at", "duration_seconds",
    )
)  # fmt: skip


#: The status read, built once: polls only bind the two ids (no statement building, and its
#: cache key is computed once).
_STATUS_QUERY = (
    select(
        *_STATUS_RUN_COLUMNS,
        *(column.label(f"c_{column.key}") for column in _STATUS_COMPONENT_COLUMNS),
    )
    .outerjoin(RunComponent, RunComponent.run_id == Run.id)
    .where(Run.id == bindparam("run_id"), Run.owner_id == bindparam("owner_id"))
    .order_by(RunComponent.position)
)


async def run_status_rows(database: Database, owner_id: str, run_id: str) -> Sequence[RowMapping]:
    """The run and its components in one autocommit SELECT, as plain rows (no ORM objects): one
    row per component in order (`c_*` columns), or one row with `c_name` None if it has none."""
    return await database.read_rows(_STATUS_QUERY, {"run_id": run_id, "owner_id": owner_id})


class RunRepository(Repository[Run]):
    # A run changes under us (worker updates): never answer from a stale identity map.
    model = Run
    fresh = True

    # --- runs ---------------------------------------------------------------

    async def find_by_idempotency_key(self, owner_id: str, key: str) -> Run | None:
        result = await self.session.execute(
            select(Run).where(Run.owner_id == owner_id, Run.idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def list_page(
        self,
        owner_id: str,
        limit: int,
        offset: int,
        *,
        video_id: str | None = None,
        status: str | None = None,
    ) -> PageResult[Run]:
        where = [Run.video_id == video_id] if video_id else []
        if status:
            where.append(Run.status == status)
        return await self._page(owner_id, limit, offset, *where)

    async def newest_cacheable(
        self, owner_id: str, content_sha256: str, config_hash: str, since: datetime
    ) -> Run | None:
        result = await self.session.execute(
            select(Run)
            .where(
                Run.owner_id == owner_id,
                Run.content_sha256 == content_sha256,
                Run.config_hash == config_hash,
                Run.status == RunStatus.SUCCEEDED,
                Run.finished_at >= since,
            )
            .order_by(Run.finished_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def runs_of_video(self, owner_id: str, video_id: str) -> Sequence[Run]:
        return await self.list(owner_id, Run.video_id == video_id)

    async def counts_by_status(self) -> list[tuple[str, int]]:
        result = await self.session.execute(select(Run.status, func.count()).group_by(Run.status))
        return [(status, count) for status, count in result.all()]

    async def delete_runs(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self.session.execute(delete(Run).where(Run.id.in_(run_ids)))

    # --- components ---------------------------------------------------------

    async def update_component(self, run_id: str, name: str, **values: object) -> None:
        await self.session.execute(
            update(RunComponent)
            .where(RunComponent.run_id == run_id, RunComponent.name == name)
            .values(**values)
        )

    async def unfinished_components(self, run_id: str) -> Sequence[RunComponent]:
        result = await self.session.execute(
            select(RunComponent).where(
                RunComponent.run_id == run_id, RunComponent.status.in_(UNFINISHED_COMPONENT_STATUSES)
            )
        )
        return result.scalars().all()

    async def failed_components(self, run_id: str) -> Sequence[RunComponent]:
        result = await self.session.execute(
            select(RunComponent).where(
                RunComponent.run_id == run_id, RunComponent.status == ComponentStatus.FAILED
            )
        )
        return result.scalars().all()

    # --- artifacts ----------------------------------------------------------

    async def artifacts(self, run_id: str) -> Sequence[Artifact]:
        result = await self.session.execute(
            select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.component, Artifact.name)
        )
        return result.scalars().all()

    async def artifact(self, owner_id: str, artifact_id: str) -> Artifact | None:
        return await self._get_owned(Artifact, owner_id, artifact_id)

    async def artifact_unscoped(self, artifact_id: str) -> Artifact | None:
        """For signed download links, whose token names the artifact itself."""
        return await self._get_by_id(Artifact, artifact_id)

    async def artifact_keys_of_runs(self, run_ids: Sequence[str]) -> list[str]:
        if not run_ids:
            return []
        result = await self.session.execute(select(Artifact.storage_key).where(Artifact.run_id.in_(run_ids)))
        return list(result.scalars().all())

    async def keys_still_referenced(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        result = await self.session.execute(
            select(Artifact.storage_key).where(Artifact.storage_key.in_(keys)).distinct()
        )
        return set(result.scalars().all())

    async def update_artifact(self, artifact_id: str, **values: object) -> None:
        await self.session.execute(update(Artifact).where(Artifact.id == artifact_id).values(**values))

    async def replace_artifacts(self, run_id: str, component: str, artifacts: Sequence[Artifact]) -> None:
        await self.session.execute(
            delete(Artifact).where(Artifact.run_id == run_id, Artifact.component == component)
        )
        self.session.add_all(artifacts)

    # --- profiles -----------------------------------------------------------

    async def profile_by_name(self, owner_id: str, name: str) -> Profile | None:
        result = await self.session.execute(
            select(Profile).where(Profile.owner_id == owner_id, Profile.name == name)
        )
        return result.scalar_one_or_none()

    async def profiles(self, owner_id: str) -> Sequence[Profile]:
        result = await self.session.execute(
            select(Profile).where(Profile.owner_id == owner_id).order_by(Profile.name)
        )
        return result.scalars().all()
