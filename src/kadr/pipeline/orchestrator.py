"""Runs a profile's components in dependency order for one video.

The orchestrator never touches the database: it reports through a `RunRecorder`
(the runs domain persists what it hears) and keeps `manifest.json` in object
storage current after every component. Components already recorded as done
(checkpoints) are not run again, so a crash costs at most the component that
was running.

Each attempt works in a folder of its own (`runs/<run_id>/attempt-<n>-<token>`), and the
folders of earlier attempts are removed when a new one starts: a process an earlier attempt
left running (its worker died) can never write into a path the retry reads or writes.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Cancelled
from kadr.core.hashing import sha256_file
from kadr.core.logging import get_logger
from kadr.core.metrics import COMPONENT_DURATION
from kadr.pipeline.base import (
    DONE_COMPONENT_STATUSES,
    AwaitingReview,
    Component,
    ComponentContext,
    ComponentInputMissing,
    ComponentResult,
    ComponentStatus,
    RunStatus,
    llm_calls_of,
)
from kadr.storage import Storage

if TYPE_CHECKING:
    from kadr.llm.gateway import LLMCall

log = get_logger(__name__)

MANIFEST_NAME = "manifest.json"
PROGRESS_FLUSH_SECONDS = 1.0


def _lower_thread_priority(niceness: int) -> None:
    # Linux keeps a nice value per thread, and what a thread starts (CTranslate2's and
    # llama.cpp's workers, ffmpeg) inherits it: the API on the same event loop gets the CPU first.
    # Relative to the process's own (a worker started with `nice` stays below its API too).
    if niceness > 0 and hasattr(os, "setpriority"):
        thread = threading.get_native_id()
        try:
            os.setpriority(
                os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness)
            )
        except OSError:  # not permitted here: run at the normal priority
            log.warning("component_niceness_not_set", niceness=niceness)


@functools.cache
def component_threads(niceness: int) -> ThreadPoolExecutor:
    """The threads components run in, at `KADR_WORK_NICENESS`; one pool per process."""
    return ThreadPoolExecutor(
        thread_name_prefix="kadr-component", initializer=_lower_thread_priority, initargs=(niceness,)
    )


@dataclass
class ArtifactRecord:
    name: str
    component: str
    kind: str
    content_type: str
    storage_key: str
    size_bytes: int
    sha256: str


@dataclass
class ComponentRecord:
    name: str
    status: ComponentStatus
    params: dict[str, Any] = field(default_factory=dict)
    progress: float = 0.0
    message: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    device: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    #: Language model calls of this attempt, for the recorder to keep (not in the manifest).
    llm_calls: list[LLMCall] = field(default_factory=list)


@dataclass
class PipelineRun:
    """Everything the orchestrator needs to know about one run."""

    run_id: str
    video_id: str
    source_key: str
    source_sha256: str
    profile_name: str
    config_hash: str
    versions: dict[str, Any]
    #: Component name -> resolved params, in execution order.
    plan: dict[str, dict[str, Any]]
    #: What earlier attempts recorded (checkpoints), by component name.
    records: dict[str, ComponentRecord] = field(default_factory=dict)
    #: Components after which the run stops for a person (those not reviewed yet).
    pause_after: tuple[str, ...] = ()
    #: In a revision, what the revised run's components that run again had produced, by
    #: component name: a component may keep what the edits did not change (`ComponentResult.kept`).
    previous: dict[str, list[ArtifactRecord]] = field(default_factory=dict)


class RunRecorder(Protocol):
    async def component_started(self, record: ComponentRecord) -> None: ...
    async def progress(self, records: Mapping[str, ComponentRecord], overall: float) -> None: ...
    async def component_finished(self, record: ComponentRecord, overall: float) -> None: ...


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def artifact_key(run_id: str, name: str) -> str:
    return f"{run_prefix(run_id)}{name}"


def overall_progress(
    plan: Mapping[str, Any], records: Mapping[str, ComponentRecord], weights: Mapping[str, float]
) -> float:
    """Percent of the run done, each component weighted by its relative cost."""
    total = sum(weights.get(name, 1.0) for name in plan) or 1.0
    done = 0.0
    for name in plan:
        record = records.get(name)
        if record is None:
            continue
        fraction = 1.0 if record.status in DONE_COMPONENT_STATUSES else record.progress
        done += weights.get(name, 1.0) * fraction
    return round(100.0 * done / total, 1)


def build_manifest(
    run: PipelineRun, records: Mapping[str, ComponentRecord], status: RunStatus
) -> dict[str, Any]:
    def jsonable(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    components: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    for name in run.plan:
        record = records.get(name) or ComponentRecord(
            name=name, status=ComponentStatus.PENDING, params=run.plan[name]
        )
        entry = {k: jsonable(v) for k, v in asdict(record).items() if k not in ("artifacts", "llm_calls")}
        entry["artifacts"] = [a.name for a in record.artifacts]
        components.append(entry)
        artifacts.extend(asdict(a) for a in record.artifacts)
    return {
        "manifest_version": 1,
        "run_id": run.run_id,
        "video_id": run.video_id,
        "source": {"key": run.source_key, "sha256": run.source_sha256},
        "profile": run.profile_name,
        "config_hash": run.config_hash,
        "versions": run.versions,
        "status": status,
        "updated_at": utcnow().isoformat(),
        "components": components,
        "artifacts": artifacts,
    }


class Orchestrator:
    def __init__(
        self, settings: Settings, storage: Storage, components: Mapping[str, type[Component]]
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.components = components

    def run_dir(self, run_id: str) -> Path:
        """The run's scratch folder: its downloaded source and one folder per attempt."""
        return self.settings.resolved_work_dir / "runs" / run_id

    def attempt_dir(self, run_id: str, attempt: int) -> Path:
        """A new, empty folder for this attempt; earlier attempts' folders are removed (a file an
        orphan still has open disappears from the folder, the orphan's writes go nowhere)."""
        run_dir = self.run_dir(run_id)
        for previous in run_dir.glob("attempt-*"):
            shutil.rmtree(previous, ignore_errors=True)
        workdir = run_dir / f"attempt-{attempt}-{secrets.token_hex(4)}"
        workdir.mkdir(parents=True)
        return workdir

    async def execute(
        self,
        run: PipelineRun,
        recorder: RunRecorder,
        cancel_event: threading.Event,
        drain_event: threading.Event | None = None,
        attempt: int = 1,
    ) -> dict[str, ComponentRecord]:
        """Run every component of the plan that is not done yet; raise on failure or cancel, and
        AwaitingReview where the run stops for a person."""
        workdir = await asyncio.to_thread(self.attempt_dir, run.run_id, attempt)
        log.info("run attempt started", run_id=run.run_id, attempt=attempt, workdir=str(workdir))
        records = dict(run.records)
        weights = {name: self.components[name].weight for name in run.plan}
        source = await asyncio.to_thread(self._local_source, run)
        for name, params in run.plan.items():
            previous = records.get(name)
            if previous is not None and previous.status in DONE_COMPONENT_STATUSES:
                continue
            # Checked before the next component rather than after the reviewed one, so that a
            # worker dying in between still stops here on the retry.
            await self._stop_for_review(run, records)
            if cancel_event.is_set():
                raise Cancelled("cancelled")
            if drain_event is not None and drain_event.is_set():
                raise Cancelled("worker is shutting down; the run continues on another worker")
            record = ComponentRecord(
                name=name, status=ComponentStatus.RUNNING, params=params, started_at=utcnow()
            )
            records[name] = record
            await recorder.component_started(record)
            try:
                await self._run_component(
                    run, record, records, source, workdir, recorder, weights, cancel_event
                )
            finally:
                record.finished_at = utcnow()
                assert record.started_at is not None
                record.duration_seconds = round((record.finished_at - record.started_at).total_seconds(), 3)
                COMPONENT_DURATION.labels(name, record.status).observe(record.duration_seconds)
                await asyncio.to_thread(self.write_manifest, run, records, RunStatus.RUNNING)
                await recorder.component_finished(record, overall_progress(run.plan, records, weights))
        await self._stop_for_review(run, records)  # also after the last: its results are edited
        await asyncio.to_thread(self.write_manifest, run, records, RunStatus.SUCCEEDED)
        await asyncio.to_thread(shutil.rmtree, self.run_dir(run.run_id), True)
        return records

    async def _stop_for_review(self, run: PipelineRun, records: Mapping[str, ComponentRecord]) -> None:
        """AwaitingReview if a component the run stops after is done and not reviewed yet."""
        for reviewed in run.pause_after:
            if reviewed in records and records[reviewed].status == ComponentStatus.SUCCEEDED:
                await asyncio.to_thread(self.write_manifest, run, records, RunStatus.AWAITING_REVIEW)
                raise AwaitingReview(reviewed)

    async def _run_component(
        self,
        run: PipelineRun,
        record: ComponentRecord,
        records: dict[str, ComponentRecord],
        source: Path,
        workdir: Path,
        recorder: RunRecorder,
        weights: Mapping[str, float],
        cancel_event: threading.Event,
    ) -> None:
        component_class = self.components[record.name]

        def report(fraction: float, message: str | None) -> None:
            # Plain attribute stores are atomic; the flusher on the event loop reads them. Never
            # backwards: a component's sub-steps (an encoder's outputs) may report out of order.
            record.progress = max(record.progress, fraction)
            if message:
                record.message = message

        context = ComponentContext(
            run_id=run.run_id,
            source=source,
            workdir=workdir,
            params=record.params,
            settings=self.settings,
            fetch_artifact=lambda artifact: self._fetch(records, workdir, artifact),
            fetch_previous=lambda artifact: self._fetch_previous(
                run.previous.get(record.name, []), workdir, artifact
            ),
            report_progress=report,
            cancel_event=cancel_event,
            deadline=time.monotonic() + self.settings.component_timeout_seconds,
        )
        run_in_context = functools.partial(contextvars.copy_context().run, component_class().run, context)
        task = asyncio.get_running_loop().run_in_executor(
            component_threads(self.settings.work_niceness), run_in_context
        )
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_FLUSH_SECONDS)
                if not task.done():
                    await recorder.progress(
                        {record.name: record}, overall_progress(run.plan, records, weights)
                    )
            result: ComponentResult = task.result()
        except ComponentInputMissing as exc:
            record.status = ComponentStatus.SKIPPED
            record.summary = {"skipped_reason": self._skip_reason(component_class, records, str(exc))}
            return
        except Cancelled as exc:
            record.status = ComponentStatus.CANCELLED
            record.error = str(exc)
            record.llm_calls = llm_calls_of(exc)
            raise
        except BaseException as exc:
            record.status = ComponentStatus.FAILED
            record.error = f"{type(exc).__name__}: {exc}"[:4000]
            record.llm_calls = llm_calls_of(exc)
            raise
        record.llm_calls = list(result.llm_calls)
        try:
            kept = self._kept(run.previous.get(record.name, []), result.kept)
        except ValueError as exc:
            record.status = ComponentStatus.FAILED
            record.error = str(exc)
            raise
        record.summary = dict(result.summary)
        record.device = str(record.summary.pop("device", "cpu"))
        if result.skipped_reason:
            record.status = ComponentStatus.SKIPPED
            record.summary["skipped_reason"] = result.skipped_reason
        else:
            record.status = ComponentStatus.SUCCEEDED
        record.progress = 1.0
        record.artifacts = await asyncio.to_thread(self._store_artifacts, run.run_id, record.name, result)
        record.artifacts += kept

    def _skip_reason(
        self, component: type[Component], records: Mapping[str, ComponentRecord], missing: str
    ) -> str:
        for required in component.requires:
            upstream = records.get(required)
            if upstream is not None and upstream.status == ComponentStatus.SKIPPED:
                why = upstream.summary.get("skipped_reason", "skipped")
                return f"{required} was skipped: {why}"
        return missing

    def _store_artifacts(self, run_id: str, component: str, result: ComponentResult) -> list[ArtifactRecord]:
        stored = []
        for artifact in result.artifacts:
            key = artifact_key(run_id, artifact.name)
            size = artifact.path.stat().st_size
            sha256 = sha256_file(artifact.path)
            self.storage.put_file(key, artifact.path, artifact.content_type)
            stored.append(
                ArtifactRecord(
                    name=artifact.name,
                    component=component,
                    kind=artifact.kind,
                    content_type=artifact.content_type,
                    storage_key=key,
                    size_bytes=size,
                    sha256=sha256,
                )
            )
        return stored

    @staticmethod
    def _kept(previous: list[ArtifactRecord], names: list[str]) -> list[ArtifactRecord]:
        """The revised run's records of the outputs a component kept (same stored objects)."""
        by_name = {artifact.name: artifact for artifact in previous}
        missing = [name for name in names if name not in by_name]
        if missing:
            raise ValueError(f"kept {', '.join(missing)}, which the revised run did not produce")
        return [by_name[name] for name in names]

    def _fetch_previous(self, previous: list[ArtifactRecord], workdir: Path, name: str) -> Path | None:
        artifact = next((a for a in previous if a.name == name), None)
        if artifact is None:
            return None
        local = workdir / "previous" / name
        if not (local.exists() and local.stat().st_size == artifact.size_bytes):
            local.parent.mkdir(parents=True, exist_ok=True)
            self.storage.get_file(artifact.storage_key, local)
        return local

    def _fetch(self, records: Mapping[str, ComponentRecord], workdir: Path, name: str) -> Path:
        for record in records.values():
            for artifact in record.artifacts:
                if artifact.name == name:
                    local = workdir / name
                    if local.exists() and local.stat().st_size == artifact.size_bytes:
                        return local
                    local.parent.mkdir(parents=True, exist_ok=True)
                    self.storage.get_file(artifact.storage_key, local)
                    return local
        raise ComponentInputMissing(f"{name} was not produced in this run")

    def _local_source(self, run: PipelineRun) -> Path:
        """The source as a local file. A download is kept for later attempts (only this process
        writes it, atomically, and only ever reads it afterwards)."""
        local = self.storage.local_path(run.source_key)
        if local is not None:
            return local
        target = self.run_dir(run.run_id) / ("source" + Path(run.source_key).suffix)
        if not target.exists():
            partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}.part")
            self.storage.get_file(run.source_key, partial)
            partial.replace(target)
        return target

    def write_manifest(
        self, run: PipelineRun, records: Mapping[str, ComponentRecord], status: RunStatus
    ) -> None:
        manifest = build_manifest(run, records, status)
        data = json.dumps(manifest, indent=2, sort_keys=False).encode()
        self.storage.put_bytes(artifact_key(run.run_id, MANIFEST_NAME), data, "application/json")
