"""Benchmark: the HTTP API under concurrent clients, beside a bare FastAPI endpoint.

A real `kadr up` (uvicorn, one process, started exactly as the CLI starts it) and, in a second
OS process, a bare FastAPI app with one `GET /bare` JSON endpoint served by uvicorn with the
same settings. N concurrent asyncio + httpx clients load each for a fixed time after a warm-up;
kadr and the bare app are measured one after the other in the same run, and the ratio
kadr / bare is the figure. Scenarios:
- poll:  every request is an authenticated `GET /v1/runs/{id}` of a finished run;
- mixed: 90% that poll, 10% `POST /v1/runs` for the same video and profile (answered from
  the cache, 201, once the first run has succeeded).
Stacks: embedded (SQLite, in-process broker and worker) and postgres (the same `kadr up` on a
throwaway database of the local PostgreSQL).

    .venv/bin/python bench/api_load.py [--stacks embedded postgres] [--concurrency 32] [--seconds 10]

Prints a table and writes bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
import psutil  # noqa: E402
from tests.support.api import register, upload, wait_for_run  # noqa: E402
from tests.support.process import free_port, kadr_up  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "talk.mp4"
from benchfile import write_results  # noqa: E402 - beside this script

RESULTS = ROOT / "bench" / "results" / "api_load.json"
PROFILE = "transcript-only"
WARMUP_SECONDS = 2.0
SLICE_SECONDS = 2.0
CREATE_SHARE = 0.10

# (kind, method, url, json body or None)
Request = tuple[str, str, str, dict[str, Any] | None]


# --- the bare app: a second OS process --------------------------------------------------


def serve_bare(port: int) -> None:
    """A bare FastAPI app on uvicorn, run as `kadr`'s `_serve` runs the API (cli.py)."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return {"id": "run_0123456789abcdef", "status": "succeeded", "progress": 100.0}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


@contextmanager
def bare_server(log: Path) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of the bare app; its process group is terminated on exit."""
    port = free_port()
    with log.open("ab") as handle:
        popen = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if popen.poll() is not None:
                raise SystemExit(f"bare app exited with {popen.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/bare", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"bare app did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base_url, popen.pid
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)


# --- the load generator ------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    status: int  # 0: transport error
    seconds: float


def _clients(base_url: str, concurrency: int) -> list[httpx.AsyncClient]:
    """One AsyncClient (one keep-alive connection) per simulated client: a single client with a
    pool of 32 connections costs the load generator about three times more CPU per request
    (386 against 1185 requests/s to /bare here), which would cap the baseline."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return [httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) for _ in range(concurrency)]


async def _drive(
    clients: list[httpx.AsyncClient],
    headers: dict[str, str],
    pick: Callable[[random.Random], Request],
    seconds: float,
    seed: int,
) -> list[Sample]:
    """The clients issue requests back to back, each waiting for its answer, for `seconds`.

    Only requests that finish inside the window are kept, so the clients' ramp-down after it
    (waiting for the last answers) biases neither the rate nor the latencies.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    samples: list[Sample] = []

    async def one_client(index: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + index)
        while loop.time() < end:
            kind, method, url, body = pick(rng)
            started = time.perf_counter()
            try:
                response = await client.request(method, url, headers=headers, json=body)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            if loop.time() <= end:
                samples.append(Sample(kind, status, time.perf_counter() - started))

    await asyncio.gather(*(one_client(i, client) for i, client in enumerate(clients)))
    return samples


def _percentiles_ms(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        value = round(1000 * values[0], 2) if values else float("nan")
        return value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(1000 * cuts[49], 2), round(1000 * cuts[98], 2)


def _summary(samples: list[Sample], seconds: float) -> dict[str, Any]:
    ok = sum(1 for s in samples if 200 <= s.status < 300)
    p50, p99 = _percentiles_ms([s.seconds for s in samples])
    return {
        "requests": len(samples),
        "errors": len(samples) - ok,
        "rps": round(len(samples) / seconds, 1),
        "p50_ms": p50,
        "p99_ms": p99,
    }


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _busy_seconds() -> float:
    """CPU time the whole machine spent busy, all CPUs together."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@dataclass
class Target:
    """One server under load: its samples and CPU accounting, summed over the slices."""

    name: str
    base_url: str
    pid: int
    headers: dict[str, str]
    pick: Callable[[random.Random], Request]
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0
    other_cpu: float = 0.0

    async def slice(self, clients: list[httpx.AsyncClient], seconds: float, seed: int) -> None:
        server, own, busy = _cpu_seconds(self.pid), _cpu_seconds(os.getpid()), _busy_seconds()
        self.samples += await _drive(clients, self.headers, self.pick, seconds, seed)
        server = _cpu_seconds(self.pid) - server
        own = _cpu_seconds(os.getpid()) - own
        self.seconds += seconds
        self.server_cpu += server
        self.loadgen_cpu += own
        self.other_cpu += max(0.0, _busy_seconds() - busy - server - own)

    def result(self) -> dict[str, Any]:
        result = _summary(self.samples, self.seconds)
        result["server_cpu_ms_per_request"] = round(1000 * self.server_cpu / max(1, len(self.samples)), 3)
        # In CPUs' worth over the measured time: the server, this load generator, everything else
        # (the idle server of the other target included).
        result["cpu_share"] = {
            "server": round(self.server_cpu / self.seconds, 2),
            "loadgen": round(self.loadgen_cpu / self.seconds, 2),
            "other": round(self.other_cpu / self.seconds, 2),
        }
        samples = self.samples
        kinds = sorted({s.kind for s in samples})
        if len(kinds) > 1:
            result["by_kind"] = {}
            for kind in kinds:
                some = [s for s in samples if s.kind == kind]
                entry = _summary(some, self.seconds)
                entry["statuses"] = {str(k): v for k, v in sorted(Counter(s.status for s in some).items())}
                result["by_kind"][kind] = entry
        if result["errors"]:
            result["error_statuses"] = {
                str(k): v
                for k, v in sorted(Counter(s.status for s in samples if not 200 <= s.status < 300).items())
            }
        return result


async def _measure(targets: list[Target], seconds: float, concurrency: int, seed: int) -> None:
    """Warm each target up, then alternate between them in slices until each had `seconds`:
    a load that comes and goes on the shared machine then falls on both alike."""
    rounds = max(1, round(seconds / SLICE_SECONDS))
    clients = [_clients(t.base_url, concurrency) for t in targets]
    try:
        for target, group in zip(targets, clients, strict=True):
            await _drive(group, target.headers, target.pick, WARMUP_SECONDS, seed)
        for n in range(rounds):
            for target, group in zip(targets, clients, strict=True):
                await target.slice(group, seconds / rounds, seed + 1 + n)
    finally:
        for group in clients:
            for client in group:
                await client.aclose()


def _ratio(kadr: dict[str, Any], bare: dict[str, Any]) -> dict[str, float]:
    return {
        "rps": round(kadr["rps"] / bare["rps"], 3),
        "p50": round(kadr["p50_ms"] / bare["p50_ms"], 2),
        "p99": round(kadr["p99_ms"] / bare["p99_ms"], 2),
        "server_cpu_per_request": round(
            kadr["server_cpu_ms_per_request"] / bare["server_cpu_ms_per_request"], 1
        ),
    }


# --- one stack ---------------------------------------------------------------------------


async def _prepare(base_url: str) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """Register and log in once (the token is reused: the login throttle, the only rate limit,
    counts failed logins only), upload the sample, run `transcript-only` to success."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        headers = await register(client, "bench@example.com")
        response = await upload(client, headers, SAMPLE)
        assert response.status_code in (201, 202), response.text
        video = response.json()
        started = time.perf_counter()
        response = await client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": PROFILE, "use_cache": True}
        )
        assert response.status_code == 202, response.text
        run = await wait_for_run(client, headers, response.json()["id"])
        assert run["status"] == "succeeded", run
        first_run_seconds = time.perf_counter() - started
        response = await client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": PROFILE, "use_cache": True}
        )
        assert response.status_code == 201 and response.json()["cached_from_run_id"] == run["id"], (
            f"expected an answer from cache: {response.status_code} {response.text}"
        )
        setup = {
            "first_run_seconds": round(first_run_seconds, 1),
            "create_path": f"{response.status_code}, answered from the cache of {run['id']}",
        }
    return headers, run, {"video_id": video["id"], **setup}


async def bench_stack(
    kadr_url: str, kadr_pid: int, bare_url: str, bare_pid: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    headers, run, setup = await _prepare(kadr_url)
    poll: Request = ("get", "GET", f"/v1/runs/{run['id']}", None)
    create: Request = (
        "create",
        "POST",
        "/v1/runs",
        {"video_id": setup["video_id"], "profile": PROFILE, "use_cache": True},
    )
    bare: Request = ("bare", "GET", "/bare", None)

    def polls(_rng: random.Random) -> Request:
        return poll

    def mixed(rng: random.Random) -> Request:
        return create if rng.random() < CREATE_SHARE else poll

    def bares(_rng: random.Random) -> Request:
        return bare

    scenarios: dict[str, Any] = {}
    for seed, (name, pick) in enumerate([("poll", polls), ("mixed", mixed)]):
        kadr = Target("kadr", kadr_url, kadr_pid, headers, pick)
        baseline = Target("bare", bare_url, bare_pid, {}, bares)
        await _measure([kadr, baseline], seconds, concurrency, 100 * seed)
        scenarios[name] = {"kadr": kadr.result(), "bare": baseline.result()}
        scenarios[name]["ratio"] = _ratio(scenarios[name]["kadr"], scenarios[name]["bare"])
    return {"setup": setup, "scenarios": scenarios}


@contextmanager
def _database(stack: str) -> Iterator[dict[str, str]]:
    if stack == "embedded":
        yield {}
    elif stack == "postgres":
        from tests.support.stack import postgres_database

        with postgres_database() as url:
            yield {"database_url": url}
    else:
        raise SystemExit(f"unknown stack {stack!r}: embedded or postgres")


def run_stack(stack: str, bare_url: str, bare_pid: int, seconds: float, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _database(stack) as settings:
        log = Path(tmp) / "kadr.log"
        with kadr_up(Path(tmp) / "var", log, log_level="WARNING", **settings) as (base_url, process):
            try:
                return asyncio.run(
                    bench_stack(base_url, process.popen.pid, bare_url, bare_pid, seconds, concurrency)
                )
            except AssertionError:
                print(process.output(), file=sys.stderr)
                raise


# --- report ------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    head = (
        f"{'stack':9} {'scenario':8} {'target':6} {'requests':>8} {'errors':>6} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'srv CPU ms/req':>14}  {'CPUs srv/gen/other':>18}"
    )
    print(head)
    print("-" * len(head))
    for stack, result in results.items():
        for name, scenario in result["scenarios"].items():
            for target in ("kadr", "bare"):
                r = scenario[target]
                share = r["cpu_share"]
                print(
                    f"{stack:9} {name:8} {target:6} {r['requests']:>8} {r['errors']:>6} {r['rps']:>8.1f} "
                    f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['server_cpu_ms_per_request']:>14.3f}  "
                    f"{share['server']:>6.2f}{share['loadgen']:>6.2f}{share['other']:>6.2f}"
                )
            ratio = scenario["ratio"]
            print(
                f"{'':9} {'':8} {'ratio':6} {'':8} {'':6} {ratio['rps']:>8.3f} "
                f"{ratio['p50']:>8.2f} {ratio['p99']:>8.2f} "
                f"{ratio['server_cpu_per_request']:>14.1f}  (kadr / bare)"
            )
            kinds = scenario["kadr"].get("by_kind")
            if kinds:
                for kind, r in kinds.items():
                    print(
                        f"{'':9} {'':8} {'  ' + kind:6} {r['requests']:>8} {r['errors']:>6} {r['rps']:>8.1f} "
                        f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}   statuses {r['statuses']}"
                    )


def _notes(concurrency: int, seconds: float) -> str:
    import uvicorn

    return " ".join(
        [
            "`kadr up` (API + in-process worker and scheduler, log level WARNING) and a bare FastAPI",
            "app (`GET /bare` returning a 3-key dict) each in its own OS process on uvicorn",
            f"{uvicorn.__version__}, one worker, started like cli.py's `_serve` (loop and http 'auto':",
            "uvloop and httptools are not installed, so asyncio + h11 for both).",
            f"Load: one asyncio process, {concurrency} concurrent clients, each an httpx.AsyncClient",
            "with one keep-alive connection, sending its next request when the last is answered;",
            f"per scenario each server gets {WARMUP_SECONDS:g} s of warm-up,",
            f"then kadr and bare alternate in {SLICE_SECONDS:g} s slices until each had {seconds:g} s",
            "(so a passing load on the shared machine falls on both); only requests finishing inside",
            f"a slice count. poll: GET /v1/runs/{{id}} of a finished {PROFILE} run with a bearer",
            "token (one login, token reused; kadr's only rate limit counts failed logins).",
            "mixed: 90% that GET, 10% POST /v1/runs with use_cache true, meant to be answered 201",
            "from the cache (a finished run copied, its manifest written): by_kind.create.statuses",
            "shows the codes they got. bare stays 100% GET /bare.",
            "embedded: kadr opens every SQLite transaction, reads included, with BEGIN IMMEDIATE",
            "(core/db.py), so concurrent polls queue on the write lock behind SQLite's busy-handler",
            "sleeps; that, more than CPU, makes its p99 tail (a trial with deferred BEGIN halved the",
            "poll p99 but turned most cached creates into 503s).",
            f"The machine has {os.cpu_count()} CPUs shared by the load generator and the servers,",
            "nothing pinned: the load generator takes about a CPU (cpu_share.loadgen), so the bare",
            "figures are bounded by the client more than by the server and the rps ratio understates",
            "kadr's own cost; server_cpu_ms_per_request (server process CPU time / requests) is the",
            "client-independent view. cpu_share.other is CPU used by anything else meanwhile (other",
            "sessions' tests, the idle server; for postgres, PostgreSQL's own processes): where it",
            "is high beyond that, the figures are disturbed.",
            "Latencies include non-2xx answers; errors counts them.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stacks", nargs="+", default=["embedded", "postgres"], choices=["embedded", "postgres"]
    )
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per scenario and target"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    # SIGTERM unwinds like Ctrl-C, so the servers' process groups are terminated either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, bare_server(Path(tmp) / "bare.log") as (bare_url, bare_pid):
        for stack in args.stacks:
            print(f"{stack}: starting kadr up, running the first {PROFILE} run…", flush=True)
            results[stack] = run_stack(stack, bare_url, bare_pid, args.seconds, args.concurrency)
    print()
    print_table(results)
    document = {
        "benchmark": "api_load",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load_before],
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": _notes(args.concurrency, args.seconds),
        "results": results,
    }
    write_results(RESULTS, document)


if __name__ == "__main__":
    main()
