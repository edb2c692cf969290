"""Which worker processes sharing this scratch space are alive: one locked file per process.

A worker holds an exclusive `flock` on `<work_dir>/workers/<token>.lock` for as long as it
lives; the kernel drops the lock when the process ends, however it ends (SIGKILL included).
Its lease owner (`host:pid:token`) names the token, so a worker that starts next to a dead
one's file can tell, without waiting for a lease to run out, that the leases of that owner
are orphans: the file is there and nobody holds it. That holds across pid reuse, container
restarts and pid namespaces, and says nothing about owners whose file is not in this folder
(other machines): their leases expire as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import uuid
from pathlib import Path


def lease_token(owner: str) -> str:
    """The instance token at the end of a lease owner `host:pid:token`."""
    return owner.rsplit(":", 1)[-1]


class WorkerInstance:
    """This process's identity as a lease owner, and the lock that proves it is alive."""

    def __init__(self, work_dir: Path) -> None:
        self.token = uuid.uuid4().hex[:12]
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{self.token}"
        self.folder = work_dir / "workers"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Create and lock this instance's file (held until `release` or process death)."""
        if self._fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self._path(self.token), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_nlink > 0:
                break
            # Another worker's `forget_dead` removed the file between our open and our lock.
            os.close(fd)
        os.write(fd, self.worker_id.encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._path(self.token).unlink()
        os.close(self._fd)
        self._fd = None

    def is_dead(self, owner: str) -> bool:
        """True only when `owner` locked a file here and no process holds that lock any more."""
        token = lease_token(owner)
        if token == self.token or not token.isalnum():
            return False
        try:
            fd = os.open(self._path(token), os.O_RDWR)
        except FileNotFoundError:
            return False  # not a process of this scratch space (or one that stopped cleanly)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # alive
        finally:
            os.close(fd)  # closing drops a lock we just took
        return True

    def forget_dead(self) -> int:
        """Remove the files of dead instances (call after their leases were reclaimed)."""
        removed = 0
        for path in self.folder.glob("*.lock"):
            if self.is_dead(f":{path.stem}"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def _path(self, token: str) -> Path:
        return self.folder / f"{token}.lock"


def instances_in(work_dir: Path) -> list[tuple[str, bool]]:
    """(lease owner, alive) of every worker instance whose file is in this scratch space."""
    folder = work_dir / "workers"
    found: list[tuple[str, bool]] = []
    for path in sorted(folder.glob("*.lock")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # it stopped meanwhile
        try:
            owner = os.read(fd, 512).decode(errors="replace") or f"?:?:{path.stem}"
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alive = False
            except BlockingIOError:
                alive = True
        finally:
            os.close(fd)
        found.append((owner, alive))
    return found
