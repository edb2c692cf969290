"""The orchestrator: dependency order, checkpoints, artifacts with sha256, manifest after
every component, skips that explain themselves, failures and cancellation recorded.

The components here are small real implementations of the component contract, so each
promise of the orchestrator can be checked without minutes of video encoding."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kadr.config import Settings
from kadr.core.errors import Cancelled
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact
from kadr.pipeline.orchestrator import ComponentRecord, Orchestrator, PipelineRun, overall_progress
from kadr.storage.local import LocalStorage

pytestmark = pytest.mark.anyio
CALLS: list[str] = []


class Count(Component):
    name = "count"
    defaults: ClassVar[dict[str, Any]] = {"words": True}

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        text = ctx.source.read_text()
        out = ctx.output("count.json")
        out.write_text(json.dumps({"chars": len(text), "words": len(text.split())}))
        ctx.progress(1.0)
        return ComponentResult(
            [ProducedArtifact("count.json", out, "json", "application/json")], {"chars": len(text)}
        )


class Shout(Component):
    name = "shout"
    requires = ("count",)

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        count = ctx.read_json("count.json")
        out = ctx.output("loud/shout.txt")
        out.write_text(ctx.source.read_text().upper() + f" ({count['words']} words)")
        return ComponentResult([ProducedArtifact("loud/shout.txt", out, "text", "text/plain")])


class Nothing(Component):
    name = "nothing"
    requires = ("count",)

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        return ComponentResult(skipped_reason="there is nothing to do for this source")


class NeedsNothing(Component):
    name = "needs_nothing"
    requires = ("nothing",)

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        ctx.input("nothing.json")
        raise AssertionError("unreachable: the input is missing")


class Broken(Component):
    name = "broken"
    requires = ("count",)

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        raise RuntimeError("the encoder crashed")


class Slow(Component):
    name = "slow"

    def run(self, ctx: ComponentContext) -> ComponentResult:
        CALLS.append(self.name)
        for step in range(1000):
            ctx.progress(step / 1000)
            threading.Event().wait(0.01)
        return ComponentResult()


#: The nice value of the thread each Priority run worked in, as the kernel reports it.
PRIORITIES: list[int] = []


class Priority(Component):
    name = "priority"

    def run(self, ctx: ComponentContext) -> ComponentResult:
        PRIORITIES.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return ComponentResult()


#: Where each Scratch attempt worked, and which earlier folders still existed when it started.
SCRATCH: list[tuple[Path, list[bool]]] = []


class Scratch(Component):
    """Leaves a half-written file in its folder and fails, unless told it is the good attempt."""

    name = "scratch"
    defaults: ClassVar[dict[str, Any]] = {"fail": False}

    def run(self, ctx: ComponentContext) -> ComponentResult:
        SCRATCH.append((ctx.workdir, [earlier.exists() for earlier, _ in SCRATCH]))
        out = ctx.output("clip.mp4")
        if ctx.params["fail"]:
            out.write_bytes(b"half of a clip")
            raise RuntimeError("the worker died here")
        out.write_bytes(b"a whole clip")
        return ComponentResult([ProducedArtifact("clip.mp4", out, "video", "video/mp4")])


COMPONENTS: dict[str, type[Component]] = {
    c.name: c for c in (Count, Shout, Nothing, NeedsNothing, Broken, Slow, Scratch, Priority)
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.overall: list[float] = []

    async def component_started(self, record: ComponentRecord) -> None:
        self.events.append(("started", record.name))

    async def progress(self, records: Mapping[str, ComponentRecord], overall: float) -> None:
        self.overall.append(overall)

    async def component_finished(self, record: ComponentRecord, overall: float) -> None:
        self.events.append((record.status, record.name))
        self.overall.append(overall)


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.data_dir / "storage")


@pytest.fixture
def source(storage: LocalStorage, tmp_path: Path) -> str:
    path = tmp_path / "source.txt"
    path.write_text("hello there general kenobi")
    storage.put_file("videos/v1/source.txt", path)
    CALLS.clear()
    return "videos/v1/source.txt"


def make_run(
    source: str, plan: dict[str, dict[str, Any]], records: dict[str, ComponentRecord] | None = None
) -> PipelineRun:
    return PipelineRun(
        run_id="run_test",
        video_id="v1",
        source_key=source,
        source_sha256="0" * 64,
        profile_name="test",
        config_hash="f" * 64,
        versions={},
        plan=plan,
        records=records or {},
    )


async def test_runs_in_order_and_stores_artifacts_with_sha256(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    recorder = Recorder()
    records = await Orchestrator(settings, storage, COMPONENTS).execute(
        make_run(source, {"count": {"words": True}, "shout": {}}), recorder, threading.Event()
    )
    assert CALLS == ["count", "shout"]
    assert recorder.events == [
        ("started", "count"),
        ("succeeded", "count"),
        ("started", "shout"),
        ("succeeded", "shout"),
    ]
    shout = records["shout"].artifacts[0]
    data = storage.get_bytes(shout.storage_key)
    assert data == b"HELLO THERE GENERAL KENOBI (4 words)"
    assert shout.sha256 == hashlib.sha256(data).hexdigest()
    assert shout.size_bytes == len(data)
    assert shout.storage_key == "runs/run_test/loud/shout.txt"
    assert records["count"].summary == {"chars": 26}
    assert recorder.overall[-1] == 100.0
    manifest = json.loads(storage.get_bytes("runs/run_test/manifest.json"))
    assert manifest["status"] == "succeeded"
    assert {a["name"]: a["sha256"] for a in manifest["artifacts"]} == {
        a.name: a.sha256 for r in records.values() for a in r.artifacts
    }
    assert not (settings.resolved_work_dir / "runs" / "run_test").exists(), "scratch is cleaned up"


async def test_finished_components_are_checkpoints(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    orchestrator = Orchestrator(settings, storage, COMPONENTS)
    first = await orchestrator.execute(make_run(source, {"count": {}}), Recorder(), threading.Event())
    CALLS.clear()
    # A retry of a run whose `count` finished: only `shout` runs, reading count's stored output.
    await orchestrator.execute(
        make_run(source, {"count": {}, "shout": {}}, {"count": first["count"]}), Recorder(), threading.Event()
    )
    assert CALLS == ["shout"]


async def test_a_skipped_requirement_explains_the_skip_downstream(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    records = await Orchestrator(settings, storage, COMPONENTS).execute(
        make_run(source, {"count": {}, "nothing": {}, "needs_nothing": {}}), Recorder(), threading.Event()
    )
    assert records["nothing"].status == "skipped"
    assert records["needs_nothing"].status == "skipped"
    assert records["needs_nothing"].summary["skipped_reason"] == (
        "nothing was skipped: there is nothing to do for this source"
    )


async def test_a_failure_is_recorded_in_the_manifest_and_raised(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="the encoder crashed"):
        await Orchestrator(settings, storage, COMPONENTS).execute(
            make_run(source, {"count": {}, "broken": {}}), recorder, threading.Event()
        )
    assert ("failed", "broken") in recorder.events
    manifest = json.loads(storage.get_bytes("runs/run_test/manifest.json"))
    broken = next(c for c in manifest["components"] if c["name"] == "broken")
    assert broken["status"] == "failed"
    assert "the encoder crashed" in broken["error"]
    assert manifest["status"] == "running", "the run is not finished: a retry continues it"


async def test_cancel_stops_the_running_component(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    import asyncio

    cancel = threading.Event()
    recorder = Recorder()
    task = asyncio.ensure_future(
        Orchestrator(settings, storage, COMPONENTS).execute(make_run(source, {"slow": {}}), recorder, cancel)
    )
    await asyncio.sleep(1.5)
    cancel.set()
    with pytest.raises(Cancelled):
        await task
    assert ("cancelled", "slow") in recorder.events
    assert recorder.overall and 0 < max(recorder.overall[:-1]) < 100, "progress was reported while running"


async def test_each_attempt_works_in_a_new_folder_and_earlier_ones_are_removed(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    SCRATCH.clear()
    orchestrator = Orchestrator(settings, storage, COMPONENTS)
    with pytest.raises(RuntimeError, match="the worker died here"):
        await orchestrator.execute(
            make_run(source, {"scratch": {"fail": True}}), Recorder(), threading.Event()
        )
    first, _ = SCRATCH[0]
    run_dir = settings.resolved_work_dir / "runs" / "run_test"
    assert first.parent == run_dir and first.name.startswith("attempt-1-")
    assert (first / "clip.mp4").read_bytes() == b"half of a clip", "kept until a retry starts"

    records = await orchestrator.execute(
        make_run(source, {"scratch": {"fail": False}}), Recorder(), threading.Event(), attempt=2
    )
    second, earlier_existed = SCRATCH[1]
    assert second != first and second.parent == run_dir and second.name.startswith("attempt-2-")
    assert earlier_existed == [False], "the first attempt's folder was gone before the second one worked"
    assert storage.get_bytes(records["scratch"].artifacts[0].storage_key) == b"a whole clip"
    assert not run_dir.exists(), "a finished run leaves no scratch"


def test_overall_progress_weighs_components() -> None:
    plan = {"a": {}, "b": {}}
    records = {"a": ComponentRecord("a", "succeeded"), "b": ComponentRecord("b", "running", progress=0.5)}
    assert overall_progress(plan, records, {"a": 1.0, "b": 3.0}) == 62.5


async def test_components_run_below_the_api_priority(
    settings: Settings, storage: LocalStorage, source: str
) -> None:
    """In one process the API and the pipeline share the CPU: the pipeline's threads (and the
    model and ffmpeg workers they start) run at `KADR_WORK_NICENESS`, the event loop does not."""
    PRIORITIES.clear()
    await Orchestrator(settings, storage, COMPONENTS).execute(
        make_run(source, {"priority": {}}), Recorder(), threading.Event()
    )
    assert [os.nice(0) + settings.work_niceness] == PRIORITIES
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.nice(0)
