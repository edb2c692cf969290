"""The one place ffmpeg is spawned: its own process group, a deadline, cancellation, progress.

`TimeLimit`-style interrupts cannot stop a blocking child, so the runner polls the
cancel event and the deadline itself and kills the whole process group.

A worker that dies without running any of that (SIGKILL, OOM killer) must not leave its
ffmpeg behind: on Linux the child asks the kernel for SIGKILL when its parent goes
(`PR_SET_PDEATHSIG`). The kernel sends it when the *thread* that forked exits, not the
process; `run_ffmpeg` blocks its calling thread until the child has been reaped, so that
thread outlives the child unless the whole process dies, which is exactly the case to cover.
Elsewhere an orphan may run to its end, but each attempt writes into a folder of its own
(`pipeline.orchestrator`), so it cannot touch a retry's files.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache

import imageio_ffmpeg

from kadr.core.errors import Cancelled

KILL_GRACE_SECONDS = 2.0
POLL_SECONDS = 0.1
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class FFmpegError(RuntimeError):
    """ffmpeg exited with an error; the message carries the end of its stderr."""

    def __init__(self, returncode: int, stderr_tail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}: {stderr_tail.strip()[-1500:]}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail


@lru_cache(maxsize=4)
def ffmpeg_executable(configured: str = "") -> str:
    """The configured ffmpeg, else the static build shipped in the imageio-ffmpeg wheel."""
    return configured or imageio_ffmpeg.get_ffmpeg_exe()


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


#: Resolved once in the parent, so the child between fork and exec only makes the call.
_PRCTL = _load_prctl()


def child_setup(niceness: int = 0) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGKILL when its parent thread exits (Linux),
    and lowers its priority by `niceness`."""
    prctl = _PRCTL
    if prctl is None and niceness <= 0:
        return None
    parent = os.getpid()

    def arm() -> None:
        if niceness > 0:
            os.nice(niceness)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the call: the signal will never come
                os._exit(1)

    return arm


def kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)


def run_ffmpeg(
    args: Sequence[str],
    *,
    executable: str = "",
    cancel_event: threading.Event | None = None,
    deadline: float | None = None,
    duration_seconds: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    threads: int = 0,
    niceness: int = 0,
) -> None:
    """Run `ffmpeg <args>`; report progress in [0, 1]; raise Cancelled or FFmpegError.

    `deadline` is a `time.monotonic()` value. `args` must not contain `-progress`. `niceness`
    lowers ffmpeg's CPU priority (the API beside it answers first).
    """
    command = [ffmpeg_executable(executable), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]
    command += ["-progress", "pipe:1"]
    if threads:
        command += ["-threads", str(threads)]
    command += list(args)
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=child_setup(niceness),  # prctl resolved before the fork: one call in the child
        )
        assert process.stdout is not None
        progress_reader = threading.Thread(
            target=_read_progress, args=(process.stdout, duration_seconds, on_progress), daemon=True
        )
        progress_reader.start()
        try:
            while process.poll() is None:
                if cancel_event is not None and cancel_event.is_set():
                    kill_group(process)
                    raise Cancelled("cancelled")
                if deadline is not None and time.monotonic() > deadline:
                    kill_group(process)
                    raise Cancelled("deadline exceeded while ffmpeg was running")
                time.sleep(POLL_SECONDS)
        except BaseException:
            if process.poll() is None:
                kill_group(process)
            raise
        finally:
            progress_reader.join(timeout=5)
            process.stdout.close()
        if process.returncode != 0:
            stderr.seek(0)
            raise FFmpegError(process.returncode, stderr.read().decode("utf-8", "replace"))
    if on_progress is not None:
        on_progress(1.0)


def _read_progress(
    stream: object, duration: float | None, on_progress: Callable[[float], None] | None
) -> None:
    reached = 0.0  # with several outputs ffmpeg's out_time can step back: report the furthest
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        if on_progress is None or not duration:
            continue
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            reached = max(reached, min(1.0, int(value) / 1_000_000 / duration))
            try:
                on_progress(reached)
            except (
                Exception
            ):  # a cancelled component raises from its progress hook: ffmpeg is stopped by the poller
                return
