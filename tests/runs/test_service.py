"""RunService: plans and config hashes, profiles, idempotency, cache reuse and its TTL, cancel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.errors import Conflict, NotFound, ValidationFailed
from kadr.runs.models import RunStatus
from kadr.runs.profiles import config_hash, resolve_plan
from kadr.runs.repository import RunRepository
from kadr.runs.service import RunService
from kadr.videos.models import Video

pytestmark = pytest.mark.anyio


def test_plan_adds_requirements_in_dependency_order(settings: Settings) -> None:
    plan = resolve_plan(settings, {"clips": {"count": 1}})
    assert list(plan) == ["probe", "audio", "transcribe", "highlights", "clips"]
    assert plan["clips"]["count"] == 1
    assert plan["transcribe"]["model"] == settings.asr_model


def test_config_hash_is_deterministic_and_sensitive(settings: Settings) -> None:
    a = resolve_plan(settings, {"subtitles": {}, "transcribe": {}})
    b = resolve_plan(settings, {"transcribe": {}, "subtitles": {}})
    assert config_hash(a) == config_hash(b)
    other_model = settings.model_copy(update={"asr_model": "base.en"})
    assert config_hash(resolve_plan(other_model, {"transcribe": {}})) != config_hash(
        resolve_plan(settings, {"transcribe": {}})
    )
    assert config_hash(resolve_plan(settings, {"clips": {"count": 2}})) != config_hash(
        resolve_plan(settings, {"clips": {"count": 3}})
    )


def test_unknown_components_and_parameters_are_rejected_with_reasons(settings: Settings) -> None:
    with pytest.raises(ValidationFailed, match="unknown component"):
        resolve_plan(settings, {"teleport": {}})
    with pytest.raises(ValidationFailed, match="colour"):
        resolve_plan(settings, {"clips": {"colour": "red"}})


async def _owner_and_video(
    settings: Settings, tmp_path: Path, email: str = "svc@example.com"
) -> tuple[str, str]:
    from kadr.accounts.service import create_user

    async with get_database(settings).session() as session:
        user = await create_user(session, email, "a-long-enough-password", settings=settings)
        video = Video(
            id=f"vid_{email.split('@')[0]}",
            owner_id=user.id,
            filename="x.mp4",
            content_type="video/mp4",
            size_bytes=1,
            sha256="a" * 64,
            storage_key="videos/x/source.mp4",
            duration_seconds=10.0,
            has_video=True,
            has_audio=True,
            width=640,
            height=360,
            media_info={},
            created_at=utcnow(),
        )
        session.add(video)
        await session.commit()
        return user.id, video.id


async def test_profiles_builtin_and_user(settings: Settings, database: None, tmp_path: Path) -> None:
    owner, _ = await _owner_and_video(settings, tmp_path)
    async with get_database(settings).session() as session:
        service = RunService(session, settings)
        names = [p.name for p in await service.list_profiles(owner)]
        assert names[:3] == ["default", "clips-vertical", "transcript-only"]
        created = await service.create_profile(owner, "shorts", "two vertical clips", {"clips": {"count": 2}})
        assert not created.builtin
        with pytest.raises(Conflict):
            await service.create_profile(owner, "shorts", "", {"clips": {}})
        with pytest.raises(Conflict):
            await service.create_profile(owner, "default", "", {"clips": {}})
        with pytest.raises(ValidationFailed):
            await service.create_profile(owner, "bad", "", {"clips": {"nope": 1}})
        assert (await service.get_profile(owner, "shorts")).components == {"clips": {"count": 2}}
        await service.delete_profile(owner, "shorts")
        with pytest.raises(NotFound):
            await service.get_profile(owner, "shorts")


async def test_idempotency_key_returns_the_same_run(
    settings: Settings, database: None, tmp_path: Path
) -> None:
    owner, video_id = await _owner_and_video(settings, tmp_path)
    async with get_database(settings).session() as session:
        service = RunService(session, settings)
        first, _ = await service.create_run(owner, video_id, "transcript-only", idempotency_key="abc")
        second, _ = await service.create_run(owner, video_id, "transcript-only", idempotency_key="abc")
        third, _ = await service.create_run(owner, video_id, "transcript-only", idempotency_key="other")
    assert first.id == second.id
    assert third.id != first.id


async def test_cache_reuses_a_recent_success_and_ignores_an_old_one(
    settings: Settings, database: None, tmp_path: Path
) -> None:
    owner, video_id = await _owner_and_video(settings, tmp_path)
    database_ = get_database(settings)
    async with database_.session() as session:
        service = RunService(session, settings)
        original, cached = await service.create_run(owner, video_id, "transcript-only")
        assert not cached
        # Pretend the worker finished it.
        await RunRepository(session).update(original.id, status=RunStatus.SUCCEEDED, finished_at=utcnow())
        await session.commit()
        reused, cached = await service.create_run(owner, video_id, "transcript-only")
        assert cached and reused.cached_from_run_id == original.id and reused.status == RunStatus.SUCCEEDED
        # A different configuration is not the same work.
        different, cached = await service.create_run(
            owner, video_id, "transcript-only", {"transcribe": {"language": "en"}}
        )
        assert not cached
        # Older than the TTL: computed again.
        old = utcnow() - timedelta(days=settings.cache_ttl_days + 1)
        await RunRepository(session).update(original.id, finished_at=old)
        await RunRepository(session).update(reused.id, status=RunStatus.FAILED)
        await session.commit()
        fresh, cached = await service.create_run(owner, video_id, "transcript-only")
        assert not cached and fresh.status == RunStatus.QUEUED
        # Opting out of the cache always computes.
        forced, cached = await service.create_run(owner, video_id, "transcript-only", use_cache=False)
        assert not cached
        assert different.id != forced.id


async def test_cancel_a_queued_run(settings: Settings, database: None, tmp_path: Path) -> None:
    owner, video_id = await _owner_and_video(settings, tmp_path)
    async with get_database(settings).session() as session:
        service = RunService(session, settings)
        run, _ = await service.create_run(owner, video_id, "transcript-only")
        cancelled = await service.cancel(owner, run.id)
        assert cancelled.status == RunStatus.CANCELLED
        assert {c.status for c in cancelled.components} == {"cancelled"}
        with pytest.raises(Conflict):
            await service.cancel(owner, run.id)
        with pytest.raises(NotFound):
            await service.cancel("usr_someone_else", run.id)


async def test_a_run_that_asks_the_model_is_refused_while_the_days_budget_is_spent(
    settings: Settings, database: None, tmp_path: Path
) -> None:
    from kadr.core.errors import RateLimited
    from kadr.llm.gateway import LLMCall
    from kadr.llm.service import LLMService

    remote = settings.model_copy(
        update={
            "llm_engine": "openai",
            "llm_url": "http://127.0.0.1:9/v1",
            "llm_model": "m",
            "llm_daily_tokens": 100,
        }
    )
    owner, video_id = await _owner_and_video(remote, tmp_path)
    spent = LLMCall("test", "openai", "m", "p", 1, "h", tokens_in=80, tokens_out=40, outcome="ok", attempts=1)
    async with get_database(remote).session() as session:
        await LLMService(session, remote).record(owner, spent)
        with pytest.raises(RateLimited) as refused:
            await RunService(session, remote).create_run(owner, video_id, "clips-ai")
        assert refused.value.slug == "llm-budget-exceeded" and "Retry-After" in refused.value.headers
        # Work that needs no model is not held back by the model's budget.
        run, _ = await RunService(session, remote).create_run(owner, video_id, "transcript-only")
        assert run.status == RunStatus.QUEUED
