"""Run kadr's real processes (`kadr up`, `kadr worker`, …) for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kadr_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kadr", *args]


def kadr_env(data_dir: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env.update({"KADR_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update({f"KADR_{key.upper()}": str(value) for key, value in settings.items()})
    return env


class KadrProcess:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.args = args
        self._log_handle = log.open("ab")
        self.popen = subprocess.Popen(
            kadr_command(*args),
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to clean up, like a machine dying."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log_handle.close()

    def terminate(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            code = self.popen.wait(timeout=10)
        self._log_handle.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def wait_for_items(fetch: Callable[[], list[T]], count: int, timeout: float, what: str) -> list[T]:
    """Poll `fetch` until it returns at least `count` items (what a stand-in server received)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = fetch()
        if len(items) >= count:
            return items
        time.sleep(0.02)
    raise AssertionError(f"expected {count} {what}, got {len(fetch())}")


def wait_until_healthy(base_url: str, process: KadrProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"kadr exited with {process.popen.returncode}:\n{process.output()}")
        try:
            if httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"kadr did not start within {timeout}s:\n{process.output()}")


@contextmanager
def kadr_up(data_dir: Path, log: Path, **settings: object) -> Iterator[tuple[str, KadrProcess]]:
    port = free_port()
    env = kadr_env(data_dir, port=port, **settings)
    process = KadrProcess(["up"], env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process)
        yield base_url, process
    finally:
        if process.popen.poll() is None:
            process.terminate()
