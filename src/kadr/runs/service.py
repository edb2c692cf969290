"""Runs: create (or answer from cache), follow, cancel, list artifacts; and the
worker-side bookkeeping the orchestrator's recorder calls."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.changes import HUB, announce_after_commit
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.errors import Conflict, NotFound, ValidationFailed
from kadr.core.hashing import sha256_file
from kadr.core.idempotency import Idempotency, create_once
from kadr.core.ids import new_id
from kadr.core.pagination import Page, PageResult
from kadr.core.signing import sign, verify
from kadr.glossaries.service import GlossaryService
from kadr.jobs import service as jobs
from kadr.llm.service import LLMService
from kadr.notifications.models import EventType
from kadr.notifications.outbox import emit
from kadr.pipeline.base import DONE_COMPONENT_STATUSES, PRODUCED_COMPONENT_STATUSES
from kadr.pipeline.components import COMPONENTS
from kadr.pipeline.components.metadata import METADATA_ARTIFACT, metadata_of_clip
from kadr.pipeline.orchestrator import (
    MANIFEST_NAME,
    ArtifactRecord,
    ComponentRecord,
    Orchestrator,
    PipelineRun,
    artifact_key,
)
from kadr.runs.models import (
    FINISHED_RUN_STATUSES,
    Artifact,
    ComponentStatus,
    Profile,
    Run,
    RunComponent,
    RunStatus,
)
from kadr.runs.profiles import (
    BUILTIN_PROFILES,
    config_hash,
    resolve_plan,
    settable_parameters,
    versions_of,
)
from kadr.runs.repository import RunRepository, run_status_rows
from kadr.storage import Storage, get_storage
from kadr.videos.repository import VideoRepository
from kadr.videos.service import on_video_delete
from kadr.voices.service import VoiceMapService

DOWNLOAD_LINK_SECONDS = 3600
#: Event-stream links: long enough to open the stream, which then lasts until the run ends.
EVENTS_LINK_SECONDS = 300
EVENTS_LINK_PURPOSE = "run-events"
#: How often an open event stream re-reads its run when no change notice comes (changes made
#: by another process), and how long it stays silent before a heartbeat.
EVENTS_POLL_SECONDS = 1.0
EVENTS_HEARTBEAT_SECONDS = 15.0
RUN_JOB_KIND = "run.process"


@dataclass(frozen=True)
class ArtifactContent:
    """How an artifact's bytes reach the client: exactly one of a local `path`, a presigned URL to
    `redirect_to`, or a `stream` the API relays."""

    filename: str
    content_type: str
    path: Path | None = None
    redirect_to: str | None = None
    stream: BinaryIO | None = None


@dataclass
class ProfileView:
    name: str
    description: str
    components: dict[str, Any]
    builtin: bool
    id: str | None = None
    #: Every component the profile runs (requirements added, in order) with all its parameters.
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Why a run of it as it is would be refused here (None: it can run).
    problem: str | None = None

    @property
    def reviewable(self) -> list[str]:
        """The components of it a run may stop after for a person (`review`)."""
        return [name for name in self.parameters if name in COMPONENTS and COMPONENTS[name].reviewable]


def artifact_row(run_id: str, owner_id: str, stored: Artifact | ArtifactRecord) -> Artifact:
    """A row for an object stored by this run, or shared with the run it was cached from."""
    return Artifact(
        id=new_id("art"),
        run_id=run_id,
        owner_id=owner_id,
        component=stored.component,
        name=stored.name,
        kind=stored.kind,
        content_type=stored.content_type,
        storage_key=stored.storage_key,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        created_at=utcnow(),
    )


def _artifact_record(artifact: Artifact) -> ArtifactRecord:
    return ArtifactRecord(
        name=artifact.name,
        component=artifact.component,
        kind=artifact.kind,
        content_type=artifact.content_type,
        storage_key=artifact.storage_key,
        size_bytes=artifact.size_bytes,
        sha256=artifact.sha256,
    )


def _component_record(component: RunComponent, run: Run, artifacts: Sequence[Artifact]) -> ComponentRecord:
    return ComponentRecord(
        name=component.name,
        status=ComponentStatus(component.status),
        params=dict(run.config.get(component.name, {})),
        progress=component.progress,
        summary=dict(component.summary or {}),
        error=component.error,
        device=component.device,
        started_at=component.started_at,
        finished_at=component.finished_at,
        duration_seconds=component.duration_seconds,
        artifacts=[_artifact_record(a) for a in artifacts if a.component == component.name],
    )


def _checked_review(review: Sequence[str], plan: Mapping[str, Any]) -> list[str]:
    """The components a run stops after for a person: in the plan, with something to edit."""
    can = [name for name in plan if COMPONENTS[name].reviewable]
    wrong = [name for name in review if name not in can]
    if wrong:
        raise ValidationFailed(
            f"review: cannot stop after {', '.join(wrong)}; "
            f"this run can stop after {', '.join(can) or 'nothing'}",
            field="review",
        )
    return [name for name in plan if name in review]


def _reviewable(run: Run, artifacts: Iterable[Artifact]) -> list[str]:
    """The artifacts a person may edit now: those of the components the run stopped after."""
    waiting = [name for name in run.review if name not in run.reviewed]
    return [
        artifact.name
        for artifact in artifacts
        if artifact.component in waiting
        and any(
            fnmatch.fnmatchcase(artifact.name, pattern)
            for pattern in COMPONENTS[artifact.component].reviewable
        )
    ]


def run_topic(run_id: str) -> str:
    """The change-notice topic of one run (core.changes)."""
    return f"run:{run_id}"


def status_view(rows: Sequence[RowMapping]) -> dict[str, Any]:
    """RunOut's fields from `run_status_rows` (run columns, then `c_*` per component)."""
    first = rows[0]
    view = {key: value for key, value in first.items() if not key.startswith("c_")}
    view["components"] = [
        {key[2:]: value for key, value in row.items() if key.startswith("c_")}
        for row in rows
        if row["c_name"] is not None
    ]
    return view


class RunService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.runs = RunRepository(session)

    @property
    def storage(self) -> Storage:
        return get_storage(self.settings)

    # --- profiles -------------------------------------------------------------

    def _profile_view(
        self, name: str, description: str, components: dict[str, Any], profile_id: str | None = None
    ) -> ProfileView:
        problem = None
        try:
            parameters = settable_parameters(self.settings, components)
        except ValidationFailed as exc:
            # It cannot run here as it is (no language model for translate, a parameter a newer
            # component dropped): its components with their defaults, and the reason.
            problem = exc.detail
            parameters = {
                name: {**COMPONENTS[name].defaults, **dict(params or {})}
                if name in COMPONENTS
                else dict(params or {})
                for name, params in components.items()
            }
        return ProfileView(
            name,
            description,
            components,
            builtin=profile_id is None,
            id=profile_id,
            parameters=parameters,
            problem=problem,
        )

    async def list_profiles(self, owner_id: str) -> list[ProfileView]:
        views = [
            self._profile_view(name, spec["description"], spec["components"])
            for name, spec in BUILTIN_PROFILES.items()
        ]
        views += [
            self._profile_view(profile.name, profile.description, profile.components, profile.id)
            for profile in await self.runs.profiles(owner_id)
        ]
        return views

    async def get_profile(self, owner_id: str, name: str) -> ProfileView:
        if name in BUILTIN_PROFILES:
            spec = BUILTIN_PROFILES[name]
            return self._profile_view(name, spec["description"], spec["components"])
        profile = await self.runs.profile_by_name(owner_id, name)
        if profile is None:
            raise NotFound(f"no profile named {name!r}")
        return self._profile_view(profile.name, profile.description, profile.components, profile.id)

    async def create_profile(
        self, owner_id: str, name: str, description: str, components: dict[str, dict[str, Any]]
    ) -> ProfileView:
        if name in BUILTIN_PROFILES:
            raise Conflict(f"{name!r} is a built-in profile; choose another name")
        if await self.runs.profile_by_name(owner_id, name) is not None:
            raise Conflict(f"you already have a profile named {name!r}")
        if not components:
            raise ValidationFailed("a profile needs at least one component")
        resolve_plan(self.settings, components)  # validates names and parameters now, not at run time
        profile = Profile(
            id=new_id("prf"),
            owner_id=owner_id,
            name=name,
            description=description,
            components=components,
            created_at=utcnow(),
        )
        self.runs.add(profile)
        await self.session.commit()
        return self._profile_view(profile.name, profile.description, profile.components, profile.id)

    async def delete_profile(self, owner_id: str, name: str) -> None:
        profile = await self.runs.profile_by_name(owner_id, name)
        if profile is None:
            raise NotFound(f"no profile named {name!r}")
        await self.runs.delete(profile)
        await self.session.commit()

    # --- runs -----------------------------------------------------------------

    async def create_run(
        self,
        owner_id: str,
        video_id: str,
        profile_name: str,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        idempotency_key: str | None = None,
        use_cache: bool = True,
        review: Sequence[str] = (),
    ) -> tuple[Run, bool]:
        """A new run of `profile_name` on the video; (run, answered_from_cache).

        With an idempotency key the run that key made is answered instead, if it was made by the
        same request (`IdempotencyKeyReused` otherwise), also when a concurrent request with the
        key commits first."""
        request = {
            "video_id": video_id,
            "profile": profile_name,
            "params": overrides or {},
            "review": list(review),
        }
        idempotency = Idempotency.of(idempotency_key, {**request, "use_cache": use_cache})
        run = await create_once(
            self.session,
            idempotency,
            lambda key: self.runs.find_by_idempotency_key(owner_id, key),
            lambda: self._create_run(
                owner_id, video_id, profile_name, overrides, idempotency, use_cache, review
            ),
        )
        return run, run.cached_from_run_id is not None

    async def _create_run(
        self,
        owner_id: str,
        video_id: str,
        profile_name: str,
        overrides: Mapping[str, Mapping[str, Any]] | None,
        idempotency: Idempotency | None,
        use_cache: bool,
        review: Sequence[str] = (),
    ) -> Run:
        video = await VideoRepository(self.session).get(owner_id, video_id)
        if video is None:
            raise NotFound(f"no video {video_id}")
        profile = await self.get_profile(owner_id, profile_name)
        spec: dict[str, dict[str, Any]] = {k: dict(v or {}) for k, v in profile.components.items()}
        for name, params in (overrides or {}).items():
            spec.setdefault(name, {}).update(params)
        if "dub" in spec:  # before the plan is resolved: dub checks every voice it is given
            await VoiceMapService(self.session).voices_for_dub(owner_id, spec["dub"])
        plan = resolve_plan(self.settings, spec)
        if "translate" in plan:
            await self._add_glossaries(owner_id, plan["translate"])
        review = _checked_review(review, plan)
        run_id = new_id("run")
        # A reviewed run's results are a person's as much as the models': never a cache answer
        # for another run (a hash of its own), nor answered from one.
        digest = config_hash(plan, reviewed_run=run_id if review else None)
        now = utcnow()
        run = Run(
            id=run_id,
            owner_id=owner_id,
            video_id=video.id,
            content_sha256=video.sha256,
            profile_name=profile.name,
            config=plan,
            config_hash=digest,
            versions=versions_of(plan),
            review=review,
            reviewed=[],
            status=RunStatus.QUEUED,
            progress=0.0,
            idempotency_key=idempotency.key if idempotency else None,
            idempotency_fingerprint=idempotency.fingerprint if idempotency else None,
            created_at=now,
        )
        cached = None
        if use_cache and not review and self.settings.cache_ttl_days > 0:
            since = now - timedelta(days=self.settings.cache_ttl_days)
            cached = await self.runs.newest_cacheable(owner_id, video.sha256, digest, since)
        if cached is not None:
            await self._copy_from_cache(run, cached, video.storage_key)
        else:
            if any("llm" in params for params in plan.values()):
                # A run whose components ask the model is refused while the day's budget is
                # spent (429 with Retry-After), rather than failing half-way through.
                await LLMService(self.session, self.settings).check_budget(owner_id)
            run.components = [
                RunComponent(name=name, position=i, status=ComponentStatus.PENDING)
                for i, name in enumerate(plan)
            ]
            self.runs.add(run)
            job = await jobs.enqueue(
                self.session, self.settings, RUN_JOB_KIND, {"run_id": run.id}, owner_id=owner_id
            )
            run.job_id = job.id
        await self.session.commit()
        return run

    async def _add_glossaries(self, owner_id: str, translate: dict[str, Any]) -> None:
        """The owner's glossaries into the run's languages, under those its parameters give: in
        the plan, so a changed glossary is a new config_hash and never a cached translation."""
        stored = await GlossaryService(self.session).for_translation(owner_id, translate["languages"])
        given = translate["glossary"]
        translate["glossary"] = {
            pair: {**stored.get(pair, {}), **given.get(pair, {})} for pair in sorted({*stored, *given})
        }

    async def _copy_from_cache(self, run: Run, source: Run, source_key: str) -> None:
        """Answer with a finished run that shares the cached run's stored objects."""
        now = utcnow()
        run.status = RunStatus.SUCCEEDED
        run.progress = 100.0
        run.cached_from_run_id = source.cached_from_run_id or source.id
        run.started_at = now
        run.finished_at = now
        run.components = [
            RunComponent(
                name=c.name,
                position=c.position,
                status=ComponentStatus.CACHED if c.status == ComponentStatus.SUCCEEDED else c.status,
                progress=1.0,
                summary=dict(c.summary or {}),
                device=c.device,
                duration_seconds=0.0,
                started_at=now,
                finished_at=now,
            )
            for c in source.components
        ]
        self.runs.add(run)
        artifacts = [
            artifact_row(run.id, run.owner_id, a)
            for a in await self.runs.artifacts(source.id)
            if a.name != MANIFEST_NAME
        ]
        self.session.add_all(artifacts)
        await self.session.flush()
        pipeline_run = self._pipeline_run(run, source_key, artifacts)
        await asyncio.to_thread(
            Orchestrator(self.settings, self.storage, {}).write_manifest,
            pipeline_run,
            pipeline_run.records,
            RunStatus.SUCCEEDED,
        )

    async def get(self, owner_id: str, run_id: str) -> Run:
        run = await self.runs.get(owner_id, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run

    async def status(self, owner_id: str, run_id: str) -> dict[str, Any]:
        """The run with its components as RunOut's fields, read in one autocommit SELECT
        (what clients poll: no transaction to begin and end, no ORM objects)."""
        rows = await run_status_rows(get_database(self.settings), owner_id, run_id)
        if not rows:
            raise NotFound(f"no run {run_id}")
        return status_view(rows)

    # --- live progress ----------------------------------------------------------

    async def events_link(self, owner_id: str, run_id: str) -> tuple[str, int]:
        """A signed URL of the run's event stream for clients that cannot send headers
        (a browser's EventSource), and its lifetime in seconds."""
        await self.status(owner_id, run_id)
        token = sign(self.settings, EVENTS_LINK_PURPOSE, run_id, EVENTS_LINK_SECONDS, uid=owner_id)
        return f"/v1/runs/{run_id}/events?token={token}", EVENTS_LINK_SECONDS

    def events_link_owner(self, token: str, run_id: str) -> str:
        """The owner an events link was signed for; 403 (or 401 expired) if it is not valid."""
        return str(verify(self.settings, EVENTS_LINK_PURPOSE, token, run_id)["uid"])

    async def open_watch(self, owner_id: str, run_id: str) -> dict[str, Any]:
        """The run's status now (404 if it is not the owner's); ends the request's read
        transaction, since the stream that follows may last an hour."""
        view = await self.status(owner_id, run_id)
        if self.session.in_transaction():
            await self.session.rollback()
        return view

    async def watch(
        self,
        owner_id: str,
        run_id: str,
        first: dict[str, Any],
        *,
        poll_seconds: float = EVENTS_POLL_SECONDS,
        heartbeat_seconds: float = EVENTS_HEARTBEAT_SECONDS,
    ) -> AsyncIterator[dict[str, Any] | None]:
        """`first`, then the run's status each time it changes, until it is finished or gone;
        None after `heartbeat_seconds` without a change.

        Each look is one autocommit SELECT (no connection is held between
        looks), woken by this process's change notices or, for changes made elsewhere, every
        `poll_seconds`.
        """
        view = first
        yield view
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        topic = run_topic(run_id)
        database = get_database(self.settings)
        while view["status"] not in FINISHED_RUN_STATUSES:
            await HUB.wait(topic, poll_seconds)
            rows = await run_status_rows(database, owner_id, run_id)
            if not rows:
                return  # deleted meanwhile
            latest = status_view(rows)
            if latest != view:
                view = latest
                quiet_since = loop.time()
                yield view
            elif loop.time() - quiet_since >= heartbeat_seconds:
                quiet_since = loop.time()
                yield None

    async def list_page(
        self, owner_id: str, page: Page, *, video_id: str | None = None, status: str | None = None
    ) -> PageResult[Run]:
        return await self.runs.list_page(owner_id, page.limit, page.offset, video_id=video_id, status=status)

    async def cancel(self, owner_id: str, run_id: str) -> Run:
        run = await self.get(owner_id, run_id)
        if run.status in FINISHED_RUN_STATUSES:
            raise Conflict(f"run {run_id} already {run.status}")
        if run.job_id:
            await jobs.cancel(self.session, run.job_id)
        now = utcnow()
        await self.runs.update(run.id, status=RunStatus.CANCELLED, finished_at=now, error="cancelled by user")
        for component in await self.runs.unfinished_components(run.id):
            await self.runs.update_component(
                run.id, component.name, status=ComponentStatus.CANCELLED, finished_at=now
            )
        announce_after_commit(self.session, run_topic(run.id))
        await self.session.commit()
        return await self.get(owner_id, run_id)

    async def artifacts(self, owner_id: str, run_id: str) -> Sequence[Artifact]:
        run = await self.get(owner_id, run_id)
        return await self.runs.artifacts(run.id)

    # --- review ---------------------------------------------------------------

    async def await_review(self, run_id: str, component: str) -> None:
        """The worker stopped the run after `component` for a person (its job is done)."""
        if await self.runs.update(run_id, when_status=RunStatus.RUNNING, status=RunStatus.AWAITING_REVIEW):
            run = await self.runs.get_unscoped(run_id)
            if run is not None:
                await self._emit(run, EventType.RUN_AWAITING_REVIEW, {"component": component})
        announce_after_commit(self.session, run_topic(run_id))
        await self.session.commit()

    async def edit_artifact(self, owner_id: str, run_id: str, name: str, edited: Any) -> list[Artifact]:
        """A person's edit of an artifact while the run awaits review: checked by the component
        that wrote it, stored in its place (with what is written from it); what comes after
        the review reads the edit. The artifacts changed."""
        run = await self.get(owner_id, run_id)
        if run.status != RunStatus.AWAITING_REVIEW:
            raise Conflict(
                f"run {run_id} is {run.status}: its artifacts can be edited only while it awaits review"
            )
        artifacts = {artifact.name: artifact for artifact in await self.runs.artifacts(run.id)}
        editable = _reviewable(run, artifacts.values())
        if name not in editable:
            raise NotFound(
                f"no artifact {name} to edit in run {run_id}; editable now: {', '.join(editable) or 'none'}"
            )
        artifact = artifacts[name]
        original = json.loads(await asyncio.to_thread(self.storage.get_bytes, artifact.storage_key))
        component = COMPONENTS[artifact.component]
        with tempfile.TemporaryDirectory(prefix="kadr-review-") as folder:
            try:
                produced = component.review_edit(
                    name, edited, original, run.config[component.name], Path(folder)
                )
            except ValueError as exc:
                raise ValidationFailed(f"{name}: {exc}", field=name) from exc
            changed = []
            for file in produced:
                key = artifact_key(run.id, file.name)
                stored = await asyncio.to_thread(self.storage.put_file, key, file.path, file.content_type)
                sha256 = await asyncio.to_thread(sha256_file, file.path)
                values: dict[str, Any] = {"storage_key": key, "size_bytes": stored.size, "sha256": sha256}
                if file.name in artifacts:
                    await self.runs.update_artifact(artifacts[file.name].id, **values)
                else:
                    record = ArtifactRecord(file.name, component.name, file.kind, file.content_type, **values)
                    self.session.add(artifact_row(run.id, owner_id, record))
                changed.append(file.name)
        await self.session.commit()
        return [a for a in await self.runs.artifacts(run.id) if a.name in changed]

    async def resume(self, owner_id: str, run_id: str) -> Run:
        """Go on after the review: what comes next reads the (edited) artifacts."""
        run = await self.get(owner_id, run_id)
        if run.status != RunStatus.AWAITING_REVIEW:
            raise Conflict(f"run {run_id} is {run.status}: only a run awaiting review can be resumed")
        done = {c.name for c in run.components if c.status == ComponentStatus.SUCCEEDED}
        reviewed = [name for name in run.review if name in done]
        job = await jobs.enqueue(
            self.session, self.settings, RUN_JOB_KIND, {"run_id": run.id}, owner_id=owner_id
        )
        if not await self.runs.update(
            run.id,
            when_status=RunStatus.AWAITING_REVIEW,
            status=RunStatus.QUEUED,
            reviewed=reviewed,
            job_id=job.id,
        ):
            raise Conflict(f"run {run_id} was resumed or cancelled meanwhile")
        announce_after_commit(self.session, run_topic(run.id))
        await self.session.commit()
        await self.session.refresh(run)
        return run

    def download_url(self, artifact: Artifact) -> str:
        """Presigned for S3; a signed link to this API for local storage. Either expires in an hour."""
        storage = self.storage
        filename = artifact.name.rsplit("/", 1)[-1]
        if storage.supports_presigned:
            return storage.presigned_get(artifact.storage_key, DOWNLOAD_LINK_SECONDS, filename=filename)
        token = sign(self.settings, "download", artifact.id, DOWNLOAD_LINK_SECONDS)
        return f"{self.settings.resolved_public_url}/v1/artifacts/{artifact.id}/content?token={token}"

    async def artifact(self, owner_id: str, artifact_id: str) -> Artifact:
        artifact = await self.runs.artifact(owner_id, artifact_id)
        if artifact is None:
            raise NotFound(f"no artifact {artifact_id}")
        return artifact

    async def artifact_by_link(self, artifact_id: str, token: str) -> Artifact:
        """The artifact a signed download link names; 403 (or 401 expired) if the link is not valid."""
        verify(self.settings, "download", token, artifact_id)
        artifact = await self.runs.artifact_unscoped(artifact_id)
        if artifact is None:
            raise NotFound(f"no artifact {artifact_id}")
        return artifact

    async def download(self, owner_id: str, artifact_id: str) -> ArtifactContent:
        return await self._content_of(await self.artifact(owner_id, artifact_id))

    async def download_by_link(self, artifact_id: str, token: str) -> ArtifactContent:
        return await self._content_of(await self.artifact_by_link(artifact_id, token))

    async def _content_of(self, artifact: Artifact) -> ArtifactContent:
        """Where the artifact's bytes come from: a local file, a presigned URL, or a stream."""
        # The transfer may take minutes: end the read transaction so nothing waits on it.
        await self.session.commit()
        storage = self.storage
        content = ArtifactContent(artifact.name.rsplit("/", 1)[-1], artifact.content_type)
        local = storage.local_path(artifact.storage_key)
        if local is not None:
            return replace(content, path=local)
        if storage.supports_presigned:
            return replace(content, redirect_to=self.download_url(artifact))
        return replace(content, stream=storage.open_read(artifact.storage_key))

    async def clip_metadata(self, owner_id: str, artifact_id: str) -> dict[str, Any] | None:
        """The title, description, tags, hashtags and Telegram caption the run's `metadata`
        component wrote for this clip; None when it wrote none (404 for another's artifact)."""
        clip = await self.artifact(owner_id, artifact_id)
        document = next(
            (a for a in await self.runs.artifacts(clip.run_id) if a.name == METADATA_ARTIFACT), None
        )
        if document is None:
            return None
        data = await asyncio.to_thread(self.storage.get_bytes, document.storage_key)
        return metadata_of_clip(json.loads(data), clip.name)

    async def manifest(self, owner_id: str, run_id: str) -> dict[str, Any]:
        run = await self.get(owner_id, run_id)
        try:
            data = await asyncio.to_thread(self.storage.get_bytes, artifact_key(run.id, MANIFEST_NAME))
        except Exception:
            raise NotFound(f"run {run_id} has no manifest yet") from None
        manifest: dict[str, Any] = json.loads(data)
        return manifest

    async def detach_video(self, owner_id: str, video_id: str) -> list[str]:
        """Cancel and delete the video's runs (the caller commits); return storage keys left unused."""
        runs = await self.runs.runs_of_video(owner_id, video_id)
        run_ids = [run.id for run in runs]
        for run in runs:
            if run.job_id and run.status not in FINISHED_RUN_STATUSES:
                await jobs.cancel(self.session, run.job_id)
        keys = await self.runs.artifact_keys_of_runs(run_ids)
        keys.extend(artifact_key(run_id, MANIFEST_NAME) for run_id in run_ids)
        await self.runs.delete_runs(run_ids)
        await self.session.flush()
        still_used = await self.runs.keys_still_referenced(keys)
        return [key for key in keys if key not in still_used]

    # --- worker side ------------------------------------------------------------

    def _pipeline_run(self, run: Run, source_key: str, artifacts: Sequence[Artifact]) -> PipelineRun:
        return PipelineRun(
            run_id=run.id,
            video_id=run.video_id,
            source_key=source_key,
            source_sha256=run.content_sha256,
            profile_name=run.profile_name,
            config_hash=run.config_hash,
            versions=run.versions,
            plan=dict(run.config),
            records={c.name: _component_record(c, run, artifacts) for c in run.components},
        )

    async def begin_processing(self, run_id: str) -> PipelineRun | None:
        """Mark the run running and return what the orchestrator needs; None if it should not run."""
        run = await self.runs.get_unscoped(run_id)
        if run is None or run.status in FINISHED_RUN_STATUSES:
            return None
        video = await VideoRepository(self.session).get(run.owner_id, run.video_id)
        if video is None:
            return None
        await self.runs.update(
            run.id, when_status=run.status, status=RunStatus.RUNNING, started_at=run.started_at or utcnow()
        )
        artifacts = await self.runs.artifacts(run.id)
        revised = await self.runs.artifacts(run.parent_run_id) if run.parent_run_id else []
        announce_after_commit(self.session, run_topic(run.id))
        await self.session.commit()
        pipeline_run = self._pipeline_run(run, video.storage_key, artifacts)
        pipeline_run.pause_after = tuple(name for name in run.review if name not in run.reviewed)
        # Only finished components are checkpoints; an interrupted one starts over.
        pipeline_run.records = {
            name: record
            for name, record in pipeline_run.records.items()
            if record.status in DONE_COMPONENT_STATUSES
        }
        # A revision's components that run again may keep what the revised run made.
        for artifact in revised:
            if artifact.component not in pipeline_run.records and artifact.name != MANIFEST_NAME:
                pipeline_run.previous.setdefault(artifact.component, []).append(_artifact_record(artifact))
        return pipeline_run

    async def owner_of(self, run_id: str) -> str | None:
        """Whose run this is (for the worker, which knows only the run's id); None if it is gone."""
        run = await self.runs.get_unscoped(run_id)
        return run.owner_id if run is not None else None

    async def record_component(
        self, run_id: str, record: ComponentRecord, overall: float | None, *, starting: bool = False
    ) -> None:
        values: dict[str, Any] = {
            "status": record.status,
            "progress": record.progress,
            "summary": record.summary,
            "error": record.error,
            "device": record.device,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "duration_seconds": record.duration_seconds,
            "message": record.message,
        }
        if starting:
            values["attempts"] = RunComponent.attempts + 1
        await self.runs.update_component(run_id, record.name, **values)
        if record.status in PRODUCED_COMPONENT_STATUSES:
            run = await self.runs.get_unscoped(run_id)
            owner_id = run.owner_id if run else ""
            await self.runs.replace_artifacts(
                run_id, record.name, [artifact_row(run_id, owner_id, a) for a in record.artifacts]
            )
        if overall is not None:
            await self.runs.update(run_id, progress=overall)
        announce_after_commit(self.session, run_topic(run_id))
        await self.session.commit()

    async def record_progress(
        self, run_id: str, records: Mapping[str, ComponentRecord], overall: float
    ) -> None:
        for record in records.values():
            await self.runs.update_component(
                run_id, record.name, progress=record.progress, message=record.message
            )
        await self.runs.update(run_id, progress=overall)
        announce_after_commit(self.session, run_topic(run_id))
        await self.session.commit()

    async def finish_processing(self, run_id: str) -> None:
        # Conditional: a run cancelled while its last component finished stays cancelled.
        finished = await self.runs.update(
            run_id,
            when_status=RunStatus.RUNNING,
            status=RunStatus.SUCCEEDED,
            progress=100.0,
            finished_at=utcnow(),
            error=None,
        )
        run = await self.runs.get_unscoped(run_id)
        if finished and run is not None:
            await self._emit(run, EventType.RUN_SUCCEEDED, {})
        announce_after_commit(self.session, run_topic(run_id))
        await self.session.commit()

    async def fail_processing(self, run_id: str, error: str, *, dead: bool = False) -> None:
        """The run's job gave up (the caller's transaction marks the job too).

        `dead`: it failed on every attempt, as opposed to failing for good at once (bad input).
        """
        run = await self.runs.get_unscoped(run_id)
        if run is None or run.status in FINISHED_RUN_STATUSES:
            return
        now = utcnow()
        await self.runs.update(run_id, status=RunStatus.FAILED, finished_at=now, error=error)
        for component in await self.runs.unfinished_components(run_id):
            await self.runs.update_component(
                run_id, component.name, status=ComponentStatus.FAILED, finished_at=now
            )
        announce_after_commit(self.session, run_topic(run_id))  # the caller commits
        await self._emit(run, EventType.RUN_DEAD if dead else EventType.RUN_FAILED, {"error": error[:1000]})

    async def reopen_processing(self, run_id: str) -> None:
        """The run's dead job is queued again (an administrator's requeue; the caller commits):
        the failed run waits for it again, keeping the components it had finished."""
        run = await self.runs.get_unscoped(run_id)
        if run is None or run.status != RunStatus.FAILED:
            return
        await self.runs.update(
            run_id, when_status=RunStatus.FAILED, status=RunStatus.QUEUED, finished_at=None, error=None
        )
        for component in await self.runs.failed_components(run_id):
            await self.runs.update_component(
                run_id, component.name, status=ComponentStatus.PENDING, finished_at=None, error=None
            )
        announce_after_commit(self.session, run_topic(run_id))

    async def _emit(self, run: Run, event_type: EventType, data: dict[str, Any]) -> None:
        video = await VideoRepository(self.session).get(run.owner_id, run.video_id)
        await emit(
            self.session,
            self.settings,
            run.owner_id,
            event_type,
            run.id,
            {
                "run_id": run.id,
                "video_id": run.video_id,
                "filename": video.filename if video is not None else None,
                "profile": run.profile_name,
                **data,
            },
        )

    async def run_counts_by_status(self) -> list[tuple[str, int]]:
        return await self.runs.counts_by_status()


@on_video_delete
async def _detach_runs(session: AsyncSession, settings: Settings, owner_id: str, video_id: str) -> list[str]:
    """A deleted video takes its runs along (cancelled first); their unused objects go after the commit."""
    return await RunService(session, settings).detach_video(owner_id, video_id)
