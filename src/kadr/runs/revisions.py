"""Revisions: a person's fixes to a finished run (a segment's text, a highlight's start and end)
made into a new run that keeps every output the fixes do not touch.

The edited documents (`transcript.json`, `highlights.json`) are written here, as the outputs of
their components in the new run (status `edited`); the components that read them run again,
and every other component's outputs are carried over (status `cached`, the same stored objects).
A component that runs again may keep what its own inputs did not change (`clips` keeps every
clip whose span and captions are the same: same file, same storage key).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, ValidationFailed
from kadr.core.idempotency import Idempotency, create_once
from kadr.core.ids import new_id
from kadr.jobs import service as jobs
from kadr.pipeline.components import COMPONENTS
from kadr.pipeline.orchestrator import MANIFEST_NAME, ArtifactRecord, Orchestrator, artifact_key
from kadr.runs.models import Artifact, ComponentStatus, Run, RunComponent, RunStatus
from kadr.runs.profiles import versions_of
from kadr.runs.service import RUN_JOB_KIND, RunService, artifact_row
from kadr.videos.repository import VideoRepository

TRANSCRIPT = "transcript.json"
TRANSCRIPT_TEXT = "transcript.txt"
HIGHLIGHTS = "highlights.json"
#: The components whose outputs a person edits; they are never run again by a revision (their
#: edited outputs are the point), whatever they read.
EDITED_BY_HAND = {"transcribe": (TRANSCRIPT, TRANSCRIPT_TEXT), "highlights": (HIGHLIGHTS,)}


@dataclass(frozen=True)
class SegmentEdit:
    index: int
    text: str


@dataclass(frozen=True)
class HighlightEdit:
    index: int
    start: float
    end: float


def _invalid(location: Sequence[str | int], message: str) -> ValidationFailed:
    """A 422 whose detail and `errors` say which edit is wrong, as FastAPI's own 422s do."""
    where = ".".join(str(part) for part in location)
    return ValidationFailed(f"{where}: {message}", errors=[{"loc": list(location), "msg": message}])


def retime_words(words: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The segment's words for its new `text`: with as many words as before each keeps its
    timing; otherwise the new words share the spoken span out by their length."""
    tokens = text.split()
    if not words:
        return []
    if len(tokens) == len(words):
        return [{**word, "word": " " + token} for word, token in zip(words, tokens, strict=True)]
    begin, finish = float(words[0]["start"]), float(words[-1]["end"])
    weights = [len(token) + 1 for token in tokens]
    total, elapsed, retimed = sum(weights), 0, []
    for token, weight in zip(tokens, weights, strict=True):
        start = begin + (finish - begin) * elapsed / total
        elapsed += weight
        end = begin + (finish - begin) * elapsed / total
        retimed.append(
            {"start": round(start, 3), "end": round(end, 3), "word": " " + token, "probability": None}
        )
    return retimed


def edit_transcript(transcript: dict[str, Any], edits: Sequence[SegmentEdit]) -> dict[str, Any]:
    """The transcript with the segments' new text (and word timings to match)."""
    edited = copy.deepcopy(transcript)
    segments = edited.get("segments", [])
    for n, edit in enumerate(edits):
        if not 0 <= edit.index < len(segments):
            raise _invalid(
                ("segments", n, "index"),
                f"there is no segment {edit.index} (the transcript has {len(segments)})",
            )
        text = " ".join(edit.text.split())
        if not text:
            raise _invalid(("segments", n, "text"), "the text is empty: write what is said")
        segment = segments[edit.index]
        segment["words"] = retime_words(segment.get("words") or [], text)
        segment["text"] = text
        segment["edited"] = True
    edited["text"] = " ".join(s["text"] for s in segments).strip()
    return edited


def edit_highlights(
    document: dict[str, Any], edits: Sequence[HighlightEdit], duration: float
) -> dict[str, Any]:
    """The highlights with their new start and end, checked against the video's length."""
    edited = copy.deepcopy(document)
    highlights = edited.get("highlights", [])
    for n, edit in enumerate(edits):
        if not 0 <= edit.index < len(highlights):
            raise _invalid(
                ("highlights", n, "index"),
                f"there is no highlight {edit.index} (the run has {len(highlights)})",
            )
        if edit.start < 0 or edit.end > duration + 0.001:
            raise _invalid(
                ("highlights", n), f"start and end must lie within the video (0 to {duration:.3f} s)"
            )
        if edit.start >= edit.end:
            raise _invalid(("highlights", n), "start must come before end")
        highlight = highlights[edit.index]
        highlight.update(
            start=round(edit.start, 3), end=round(edit.end, 3), duration=round(edit.end - edit.start, 3)
        )
        highlight["edited"] = True
    return edited


def components_to_run(plan: Mapping[str, Any], edited: set[str]) -> list[str]:
    """The components of the plan that read, directly or through another, what was edited
    (in plan order); the edited components themselves are not among them."""
    stale: set[str] = set(edited)
    again: list[str] = []
    for name in plan:
        if name in EDITED_BY_HAND:
            continue
        if stale.intersection(COMPONENTS[name].requires):
            stale.add(name)
            again.append(name)
    return again


def revision_hash(parent_hash: str, request: Mapping[str, Any]) -> str:
    """Its own config_hash: a revision's outputs never answer a fresh run from cache."""
    document = {"revises": parent_hash, "edits": request}
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RevisionService(RunService):
    """Runs made from a finished run with a person's edits (the run bookkeeping is RunService's)."""

    async def revise(
        self,
        owner_id: str,
        run_id: str,
        segments: Sequence[SegmentEdit],
        highlights: Sequence[HighlightEdit],
        idempotency_key: str | None = None,
    ) -> Run:
        """A new run of `run_id` with the edits (404 another's run, 409 one not succeeded)."""
        request = {
            "run_id": run_id,
            "segments": [[e.index, e.text] for e in segments],
            "highlights": [[e.index, e.start, e.end] for e in highlights],
        }
        idempotency = Idempotency.of(idempotency_key, request)
        return await create_once(
            self.session,
            idempotency,
            lambda key: self.runs.find_by_idempotency_key(owner_id, key),
            lambda: self._revise(owner_id, run_id, segments, highlights, request, idempotency),
        )

    async def _revise(
        self,
        owner_id: str,
        run_id: str,
        segments: Sequence[SegmentEdit],
        highlights: Sequence[HighlightEdit],
        request: dict[str, Any],
        idempotency: Idempotency | None,
    ) -> Run:
        parent = await self.get(owner_id, run_id)
        if parent.status != RunStatus.SUCCEEDED:
            raise Conflict(f"run {run_id} is {parent.status}: only a run that succeeded can be revised")
        if not segments and not highlights:
            raise ValidationFailed("nothing to revise: give segment or highlight edits")
        artifacts = [a for a in await self.runs.artifacts(parent.id) if a.name != MANIFEST_NAME]
        documents = await self._edited_documents(owner_id, parent, artifacts, segments, highlights)
        edited = {component for component, names in EDITED_BY_HAND.items() if set(names) & set(documents)}
        again = components_to_run(parent.config, edited)
        now = utcnow()
        run = Run(
            id=new_id("run"),
            owner_id=owner_id,
            video_id=parent.video_id,
            content_sha256=parent.content_sha256,
            profile_name=parent.profile_name,
            config=dict(parent.config),
            config_hash=revision_hash(parent.config_hash, request),
            versions=versions_of(parent.config),
            status=RunStatus.QUEUED,
            progress=0.0,
            parent_run_id=parent.id,
            idempotency_key=idempotency.key if idempotency else None,
            idempotency_fingerprint=idempotency.fingerprint if idempotency else None,
            created_at=now,
        )
        run.components = [self._component(c, edited, again, now) for c in parent.components]
        self.runs.add(run)
        await self.session.flush()  # the run's row first: its artifacts refer to it
        rows = [
            artifact_row(run.id, owner_id, await self._store(run.id, a, documents[a.name]))
            if a.name in documents
            else artifact_row(run.id, owner_id, a)
            for a in artifacts
            if a.component not in again
        ]
        self.session.add_all(rows)
        await self.session.flush()
        if again:
            job = await jobs.enqueue(
                self.session, self.settings, RUN_JOB_KIND, {"run_id": run.id}, owner_id=owner_id
            )
            run.job_id = job.id
        else:  # nothing reads the edited documents: the revision is done as it stands
            run.status, run.progress, run.started_at, run.finished_at = RunStatus.SUCCEEDED, 100.0, now, now
            video = await VideoRepository(self.session).get(owner_id, run.video_id)
            pipeline_run = self._pipeline_run(run, video.storage_key if video else "", rows)
            await asyncio.to_thread(
                Orchestrator(self.settings, self.storage, {}).write_manifest,
                pipeline_run,
                pipeline_run.records,
                RunStatus.SUCCEEDED,
            )
        await self.session.commit()
        return run

    async def _edited_documents(
        self,
        owner_id: str,
        parent: Run,
        artifacts: Sequence[Artifact],
        segments: Sequence[SegmentEdit],
        highlights: Sequence[HighlightEdit],
    ) -> dict[str, bytes]:
        """The new contents of the edited artifacts, by name (422 for an edit that cannot be)."""
        stored = {a.name: a for a in artifacts}
        documents: dict[str, bytes] = {}
        if segments:
            transcript = edit_transcript(await self._json(stored, TRANSCRIPT, "segments"), segments)
            documents[TRANSCRIPT] = _json_bytes(transcript)
            if TRANSCRIPT_TEXT in stored:
                lines = [s["text"] for s in transcript.get("segments", [])]
                documents[TRANSCRIPT_TEXT] = ("\n".join(lines) + ("\n" if lines else "")).encode()
        if highlights:
            video = await VideoRepository(self.session).get(owner_id, parent.video_id)
            duration = video.duration_seconds if video is not None else 0.0
            document = edit_highlights(
                await self._json(stored, HIGHLIGHTS, "highlights"), highlights, duration
            )
            documents[HIGHLIGHTS] = _json_bytes(document)
        return documents

    async def _json(self, stored: Mapping[str, Artifact], name: str, edits: str) -> dict[str, Any]:
        artifact = stored.get(name)
        if artifact is None:
            raise _invalid((edits,), f"the run has no {name} to edit")
        data = await asyncio.to_thread(self.storage.get_bytes, artifact.storage_key)
        document: dict[str, Any] = json.loads(data)
        return document

    async def _store(self, run_id: str, artifact: Artifact, data: bytes) -> ArtifactRecord:
        """The edited document stored as the new run's own object."""
        key = artifact_key(run_id, artifact.name)
        await asyncio.to_thread(self.storage.put_bytes, key, data, artifact.content_type)
        return ArtifactRecord(
            name=artifact.name,
            component=artifact.component,
            kind=artifact.kind,
            content_type=artifact.content_type,
            storage_key=key,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    @staticmethod
    def _component(source: RunComponent, edited: set[str], again: list[str], now: datetime) -> RunComponent:
        """The new run's record of a component: to run again, edited, or carried over."""
        if source.name in again:
            return RunComponent(name=source.name, position=source.position, status=ComponentStatus.PENDING)
        status = ComponentStatus(source.status)
        if source.name in edited:
            status = ComponentStatus.EDITED
        elif status == ComponentStatus.SUCCEEDED:
            status = ComponentStatus.CACHED
        return RunComponent(
            name=source.name,
            position=source.position,
            status=status,
            progress=1.0,
            summary=dict(source.summary or {}),
            device=source.device,
            duration_seconds=0.0,
            started_at=now,
            finished_at=now,
        )


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=1, ensure_ascii=False).encode()
