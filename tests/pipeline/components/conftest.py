"""Run real components on the sample talk, in dependency order, into a temporary folder."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kadr.config import Settings
from kadr.pipeline.base import ComponentContext, ComponentInputMissing, ComponentResult
from kadr.pipeline.components import COMPONENTS
from kadr.runs.profiles import resolve_plan
from tests.conftest import DATA_DIR


@dataclass
class Bench:
    """A tiny stand-in for the orchestrator's bookkeeping: files in a folder, results by name."""

    source: Path
    workdir: Path
    settings: Settings
    results: dict[str, ComponentResult] = field(default_factory=dict)
    progress: dict[str, list[float]] = field(default_factory=dict)

    def fetch(self, name: str) -> Path:
        for result in self.results.values():
            for artifact in result.artifacts:
                if artifact.name == name:
                    return artifact.path
        raise ComponentInputMissing(name)

    def run(self, name: str, plan: dict[str, Any] | None = None, **overrides: Any) -> ComponentResult:
        """Run `name` with `overrides`; `plan` gives the other components' parameters where
        this one's depend on them (dub speaks translate's languages)."""
        params = resolve_plan(self.settings, {**(plan or {}), name: overrides})[name]
        seen = self.progress.setdefault(name, [])
        context = ComponentContext(
            run_id="run_components",
            source=self.source,
            workdir=self.workdir,
            params=params,
            settings=self.settings,
            fetch_artifact=self.fetch,
            report_progress=lambda fraction, _message: seen.append(fraction),
            cancel_event=threading.Event(),
        )
        result = COMPONENTS[name]().run(context)
        self.results[name] = result
        return result

    def json(self, name: str) -> Any:
        return json.loads(self.fetch(name).read_text())


def make_bench(source: Path, folder: Path, *names: str, settings: Settings | None = None) -> Bench:
    bench = Bench(source, folder, settings or Settings(data_dir=folder / "var"))
    for name in names:
        bench.run(name)
    return bench


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """The sample talk through probe, audio, transcribe and highlights (once per module)."""
    return make_bench(
        DATA_DIR / "talk.mp4", tmp_path_factory.mktemp("talk"), "probe", "audio", "transcribe", "highlights"
    )
