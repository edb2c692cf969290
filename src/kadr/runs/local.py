"""`kadr process FILE`: one file through the same services, job system and pipeline as the API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kadr.config import Settings
from kadr.core.db import dispose_database, get_database
from kadr.core.ids import new_id
from kadr.core.streaming import ReceivedFile
from kadr.runs.models import FINISHED_RUN_STATUSES, Run, RunStatus
from kadr.runs.service import RunService
from kadr.storage import get_storage
from kadr.videos.repository import VideoRepository
from kadr.videos.service import VideoService

LOCAL_USER_EMAIL = "local@kadr.invalid"
POLL_SECONDS = 0.25


@dataclass
class LocalResult:
    run_id: str
    status: str
    error: str | None
    cached_from: str | None
    artifacts: dict[str, Path] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)


def _copy_and_hash(source: Path, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def _local_user_id(settings: Settings) -> str:
    from kadr.accounts.service import get_or_create_local_user

    async with get_database(settings).session() as session:
        return await get_or_create_local_user(session, LOCAL_USER_EMAIL)


async def process_file(
    settings: Settings,
    file: Path,
    profile: str,
    params: dict[str, dict[str, Any]],
    use_cache: bool,
    out: Path,
    on_update: Callable[[Run], None] | None = None,
) -> LocalResult:
    """Run `file` with `profile`; artifacts (and manifest.json) are written under `out`."""
    from kadr.jobs.runtime import Runtime
    from kadr.migrations.runner import upgrade_database

    await upgrade_database(settings)
    try:
        async with Runtime(settings).running(worker=True, scheduler=True):
            return await _process(settings, file, profile, params, use_cache, out, on_update)
    finally:
        await dispose_database()


async def _process(
    settings: Settings,
    file: Path,
    profile: str,
    params: dict[str, dict[str, Any]],
    use_cache: bool,
    out: Path,
    on_update: Callable[[Run], None] | None,
) -> LocalResult:
    owner_id = await _local_user_id(settings)
    database = get_database(settings)
    async with database.session() as session:
        videos = VideoService(session, settings)
        scratch = videos.scratch_path(new_id("rcv"))
        size, sha256 = await asyncio.to_thread(_copy_and_hash, file, scratch)
        video = await VideoRepository(session).find_by_sha256(owner_id, sha256)
        if video is None:
            received = ReceivedFile(scratch, file.name, "application/octet-stream", size, sha256)
            video = await videos.ingest_received(owner_id, received)
        else:
            scratch.unlink(missing_ok=True)
        run, _ = await RunService(session, settings).create_run(
            owner_id, video.id, profile, params, None, use_cache
        )
        run_id = run.id
    while True:
        async with database.session() as session:
            run = await RunService(session, settings).get(owner_id, run_id)
        if on_update is not None:
            on_update(run)
        if run.status in FINISHED_RUN_STATUSES:
            break
        await asyncio.sleep(POLL_SECONDS)
    result = LocalResult(run.id, run.status, run.error, run.cached_from_run_id)
    if run.status != RunStatus.SUCCEEDED:
        return result
    async with database.session() as session:
        artifacts = list(await RunService(session, settings).artifacts(owner_id, run_id))
    storage = get_storage(settings)
    keys = {artifact.name: (artifact.storage_key, artifact.sha256) for artifact in artifacts}
    manifest_key = f"runs/{run_id}/manifest.json"
    keys["manifest.json"] = (manifest_key, "")
    for name, (key, sha256) in keys.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(storage.get_file, key, target)
        result.artifacts[name] = target
        result.sha256[name] = sha256 or hashlib.sha256(target.read_bytes()).hexdigest()
    return result
