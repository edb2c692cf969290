"""The ffmpeg runner: progress, errors with their reason, and cancel/deadline killing the process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from kadr.core.errors import Cancelled
from kadr.media.ffmpeg import FFmpegError, run_ffmpeg

ENDLESS = ["-f", "lavfi", "-re", "-i", "testsrc2=size=320x240:rate=25", "-f", "null", "-"]


def _ffmpeg_children(parent: psutil.Process | None = None) -> list[psutil.Process]:
    children = (parent or psutil.Process()).children(recursive=True)
    return [p for p in children if "ffmpeg" in " ".join(p.cmdline())]


def gone(process: psutil.Process) -> bool:
    """Exited (a zombie nobody reaped yet counts: it runs and writes nothing)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(process: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(process):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


#: A stand-in worker: runs ffmpeg from a thread of its own, as components do via `to_thread`.
WORKER = """
import sys, threading
from kadr.media.ffmpeg import run_ffmpeg
thread = threading.Thread(target=run_ffmpeg, args=(sys.argv[1:],))
thread.start()
thread.join()
"""


def test_progress_is_reported_up_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-c:v", "libx264", "-preset",
         "ultrafast", str(tmp_path / "out.mp4")],
        duration_seconds=3,
        on_progress=seen.append,
    )  # fmt: skip
    assert (tmp_path / "out.mp4").stat().st_size > 0
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 2


def test_a_failure_carries_ffmpegs_reason(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError) as raised:
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")])
    assert "missing.mp4" in str(raised.value) and raised.value.returncode != 0


def test_cancel_kills_the_whole_process_group() -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_ffmpeg(ENDLESS, cancel_event=cancel)
    assert time.monotonic() - started < 10
    assert _ffmpeg_children() == [], "no ffmpeg survives a cancel"


def test_deadline_stops_a_runaway_encode() -> None:
    with pytest.raises(Cancelled, match="deadline"):
        run_ffmpeg(ENDLESS, deadline=time.monotonic() + 1.0)
    assert _ffmpeg_children() == []


def test_ffmpeg_runs_in_its_own_process_group() -> None:
    groups: list[int] = []

    def watch() -> None:
        for _ in range(50):
            children = _ffmpeg_children()
            if children:
                groups.append(os.getpgid(children[0].pid))
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(Cancelled):
        run_ffmpeg(ENDLESS, deadline=time.monotonic() + 1.5)
    watcher.join()
    assert groups and groups[0] != os.getpgrp()


def test_ffmpeg_runs_at_the_niceness_asked_so_the_api_answers_first() -> None:
    seen: list[int] = []

    def watch() -> None:
        for _ in range(50):
            children = _ffmpeg_children()
            if children:
                seen.append(children[0].nice())
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(Cancelled):
        run_ffmpeg(ENDLESS, deadline=time.monotonic() + 1.5, niceness=7)
    watcher.join()
    assert seen == [os.nice(0) + 7]


def test_ffmpeg_dies_with_a_sigkilled_worker(tmp_path: Path) -> None:
    output = tmp_path / "attempt-1" / "out.nut"
    output.parent.mkdir()
    args = [*ENDLESS[:-3], "-f", "nut", str(output)]
    worker = subprocess.Popen([sys.executable, "-c", WORKER, *args], start_new_session=True)
    ffmpeg: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while not ffmpeg and time.monotonic() < deadline and worker.poll() is None:
            ffmpeg = _ffmpeg_children(psutil.Process(worker.pid))
            time.sleep(0.05)
        assert ffmpeg, "the worker did not start ffmpeg"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert wait_until_gone(ffmpeg[0], timeout=10), "ffmpeg outlived its worker (parent 1)"
    finally:
        for orphan in ffmpeg:
            if not gone(orphan):
                orphan.kill()
        if worker.poll() is None:
            worker.kill()
