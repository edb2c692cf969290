"""The contract between the orchestrator and pipeline components.

A component reads its inputs (the source file and artifacts of the
components it requires) and writes its outputs as files under
`ctx.output(name)`. It never touches the database or object storage: the
orchestrator hashes, uploads and records what it produced.

Artifact names are relative paths inside the run (`transcript.json`,
`clips/clip_01_9x16.mp4`); they become storage keys `runs/<run_id>/<name>`.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kadr.config import Settings
from kadr.core.errors import Cancelled
from kadr.media.ffmpeg import run_ffmpeg

if TYPE_CHECKING:
    from kadr.llm.gateway import LLMCall


class RunStatus(enum.StrEnum):
    """A run's state. The orchestrator writes it into the manifest; the runs domain stores it
    (defined here, since the pipeline cannot import the runs domain)."""

    QUEUED = "queued"
    RUNNING = "running"
    #: Stopped after a component the run's `review` names, until a person resumes it.
    AWAITING_REVIEW = "awaiting_review"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ComponentStatus(enum.StrEnum):
    """A component's state within a run, as the orchestrator records it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CACHED = "cached"  # answered from an earlier run's outputs
    EDITED = "edited"  # an earlier run's outputs with a person's edits (a revision)


#: Component states whose outputs are final: a retried run does not redo them.
DONE_COMPONENT_STATUSES = (
    ComponentStatus.SUCCEEDED,
    ComponentStatus.SKIPPED,
    ComponentStatus.CACHED,
    ComponentStatus.EDITED,
)
#: Component states that produced the component's artifacts in this run.
PRODUCED_COMPONENT_STATUSES = (ComponentStatus.SUCCEEDED, ComponentStatus.SKIPPED)
#: Component states of work not finished yet: cancelling or failing the run ends them too.
UNFINISHED_COMPONENT_STATUSES = (ComponentStatus.PENDING, ComponentStatus.RUNNING)


@dataclass
class ProducedArtifact:
    """A file a component wrote; `name` is its path relative to the run."""

    name: str
    path: Path
    kind: str  # "json", "audio", "video", "subtitles", "image", "text"
    content_type: str


@dataclass
class ComponentResult:
    artifacts: list[ProducedArtifact] = field(default_factory=list)
    #: Small JSON-able facts shown in the API (e.g. {"language": "en", "segments": 12}).
    summary: dict[str, Any] = field(default_factory=dict)
    #: Set when the component had nothing sensible to do (e.g. clips of an audio-only file).
    skipped_reason: str | None = None
    #: Language model calls made (components cannot record them: the run's recorder does).
    llm_calls: list[LLMCall] = field(default_factory=list)
    #: Names of outputs of the revised run (`ctx.previous`) kept as they are: recorded with
    #: the objects already stored, neither written again nor uploaded.
    kept: list[str] = field(default_factory=list)


def with_llm_calls(error: BaseException, calls: list[LLMCall]) -> BaseException:
    """`error`, carrying the model calls spent before it: a failed component's calls cost the
    user tokens too, and the orchestrator hands them to the recorder all the same."""
    error.llm_calls = list(calls)  # type: ignore[attr-defined]
    return error


def llm_calls_of(error: BaseException) -> list[LLMCall]:
    """The model calls a failed component spent (see `with_llm_calls`)."""
    return list(getattr(error, "llm_calls", None) or [])


class ComponentInputMissing(Exception):
    """An artifact a component needs was not produced by its requirements."""


class AwaitingReview(Exception):
    """The run stops for a person: `component` is done and the run's `review` names it."""

    def __init__(self, component: str) -> None:
        super().__init__(f"awaiting review after {component}")
        self.component = component


def edited_texts(edited: Any, original: Mapping[str, Any], key: str) -> list[str]:
    """The texts of a person's edit of a timed document (`{key: [{start, end, text}, …]}`): as
    many items as the original, each at the original's time, each with text. ValueError saying
    what is wrong otherwise."""
    before = original[key]
    after = edited.get(key) if isinstance(edited, Mapping) else None
    if not isinstance(after, list):
        raise ValueError(f'expected a JSON object with a "{key}" list, as the artifact has')
    if len(after) != len(before):
        raise ValueError(f"{key}: {len(after)} given, the original has {len(before)}; edit the text only")
    texts = []
    for index, (was, item) in enumerate(zip(before, after, strict=True)):
        text = item.get("text") if isinstance(item, Mapping) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{key}[{index}].text must be non-empty text")
        for edge in ("start", "end"):
            if (
                not isinstance(item.get(edge), int | float)
                or abs(float(item[edge]) - float(was[edge])) > 0.001
            ):
                raise ValueError(
                    f"{key}[{index}].{edge} must stay {was[edge]}: the timing is kept, edit the text"
                )
        texts.append(" ".join(text.split()))
    return texts


class ComponentContext:
    """What a running component may use: files in, files out, progress, cancellation."""

    def __init__(
        self,
        *,
        run_id: str,
        source: Path,
        workdir: Path,
        params: dict[str, Any],
        settings: Settings,
        fetch_artifact: Callable[[str], Path],
        fetch_previous: Callable[[str], Path | None] | None = None,
        report_progress: Callable[[float, str | None], None] | None = None,
        cancel_event: threading.Event | None = None,
        deadline: float | None = None,
    ) -> None:
        self.run_id = run_id
        self.source = source
        self.workdir = workdir
        self.params = params
        self.settings = settings
        self._fetch_artifact = fetch_artifact
        self._fetch_previous = fetch_previous
        self._report_progress = report_progress
        self.cancel_event = cancel_event or threading.Event()
        #: time.monotonic() value after which work must stop; None = no deadline.
        self.deadline = deadline

    def input(self, name: str) -> Path:
        """Local path of an artifact produced earlier in this run (downloaded if needed)."""
        return self._fetch_artifact(name)

    def read_json(self, name: str) -> Any:
        import json

        return json.loads(self.input(name).read_text(encoding="utf-8"))

    def previous(self, name: str) -> Path | None:
        """Local path of what this component wrote as `name` in the run this one revises (a
        person's edits applied to it); None in a fresh run, or if it wrote no such file."""
        return self._fetch_previous(name) if self._fetch_previous is not None else None

    def previous_json(self, name: str) -> Any:
        """`previous(name)` parsed as JSON; None when there is none."""
        import json

        path = self.previous(name)
        return None if path is None else json.loads(path.read_text(encoding="utf-8"))

    def output(self, name: str) -> Path:
        """Where to write the artifact `name`; parent folders are created."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress of this component in [0, 1]; also a cancellation point."""
        self.check_cancelled()
        if self._report_progress is not None:
            self._report_progress(min(1.0, max(0.0, fraction)), message)

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Cancelled("component deadline exceeded")

    def run_ffmpeg(
        self,
        args: list[str],
        *,
        duration_seconds: float | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> None:
        """ffmpeg for this component: the configured binary, stopped by a cancel or the
        component's deadline. It inherits the component thread's `KADR_WORK_NICENESS`."""
        run_ffmpeg(
            args,
            executable=self.settings.ffmpeg_binary,
            cancel_event=self.cancel_event,
            deadline=self.deadline,
            duration_seconds=duration_seconds,
            on_progress=on_progress,
            threads=self.settings.ffmpeg_threads,
        )

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class Component:
    """Base class for pipeline components. Subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    #: Bump when the output for the same input and params changes: it is part of config_hash.
    version: ClassVar[str] = "1"
    #: Names of components whose artifacts this one reads.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Default parameters; a profile may override any of them.
    defaults: ClassVar[dict[str, Any]] = {}
    #: Relative cost, used to weigh the run's overall percent.
    weight: ClassVar[float] = 1.0

    @classmethod
    def requirements(cls, overrides: Mapping[str, Any]) -> tuple[str, ...]:
        """The components a run of this one with these parameters reads: `requires`, and more
        where a parameter asks for them (clips in a translated language read translate)."""
        return cls.requires

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults + overrides (+ anything taken from settings). Unknown keys are an error."""
        unknown = set(overrides) - set(cls.defaults)
        if unknown:
            raise ValueError(f"unknown parameter(s) for {cls.name}: {', '.join(sorted(unknown))}")
        return {**cls.defaults, **overrides}

    @classmethod
    def complete_params(cls, params: dict[str, Any], plan: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The parameters once the whole plan is known (the components before this one are in
        `plan`): for a default taken from another component. ValueError for a plan it refuses."""
        return params

    #: Artifacts (glob patterns) a person may edit while the run awaits review after this
    #: component; `review_edit` checks each edit.
    reviewable: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def review_edit(
        cls, name: str, edited: Any, original: Any, params: dict[str, Any], folder: Path
    ) -> list[ProducedArtifact]:
        """A person's edit of the artifact `name` (parsed JSON), checked against the `original`:
        the files to store in place of this component's (the edit, and what is written from it),
        under `folder`. ValueError with the reason for an edit it refuses."""
        raise ValueError(f"{name} cannot be edited")

    def run(self, ctx: ComponentContext) -> ComponentResult:
        raise NotImplementedError
