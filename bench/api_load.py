"""Benchmark: the HTTP API under concurrent clients, beside a bare FastAPI endpoint and a floor.

A real `kadr up` (uvicorn, one process, started exactly as the CLI starts it) and, in other
OS processes on the same uvicorn settings, a bare FastAPI app with one `GET /bare` JSON endpoint
and a *floor*: a plain ASGI app, no framework, whose `GET /floor` runs the SELECT kadr runs for
a poll (the run joined to its components) with the same driver (aiosqlite on kadr's SQLite file,
asyncpg on its PostgreSQL database) and answers the rows as JSON. N concurrent asyncio + httpx
clients load each for a fixed time after a warm-up, in alternating slices; the ratios kadr / bare
and kadr / floor are the figures. Scenarios:
- poll:  every request is an authenticated `GET /v1/runs/{id}` of a finished run;
- mixed: 90% that poll, 10% `POST /v1/runs` for the same video and profile (answered from
  the cache, 201, once the first run has succeeded);
- processing: the poll while runs of the sample process in kadr's worker meanwhile (one after
  another, cache off), so the worker writes progress while the clients read.
Stacks: embedded (SQLite, in-process broker and worker) and postgres (the same `kadr up` on a
throwaway database of the local PostgreSQL).

    .venv/bin/python bench/api_load.py [--stacks embedded postgres] [--concurrency 32] [--seconds 10]
    .venv/bin/python bench/api_load.py --quick    # a few seconds per scenario: does it work?

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
import threading
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
def bare_server(log: Path, role: str = "bare", *args: str) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of the bare app (or the floor, `role`); its process group is terminated on exit."""
    port = free_port()
    with log.open("ab") as handle:
        popen = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), f"--serve-{role}", str(port), *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if popen.poll() is not None:
                raise SystemExit(f"{role} app exited with {popen.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/{role}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{role} app did not start:\n{log.read_text()[-3000:]}")
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


# --- the floor: the same SELECT with the same driver, no framework ------------------------

_STATUS_COLUMNS = (
    "r.id, r.video_id, r.profile_name, r.status, r.progress, r.error, r.config_hash, r.config, "
    "r.versions, r.cached_from_run_id, r.job_id, r.created_at, r.started_at, r.finished_at, "
    "c.name, c.status, c.progress, c.message, c.attempts, c.device, c.summary, c.error, "
    "c.started_at, c.finished_at, c.duration_seconds"
)
FLOOR_SQL = (
    f"SELECT {_STATUS_COLUMNS} FROM runs AS r LEFT OUTER JOIN run_components AS c ON c.run_id = r.id "
    "WHERE r.id = {id} AND r.owner_id = {owner} ORDER BY c.position"
)


def serve_floor(port: int, database_url: str, run_id: str, owner_id: str) -> None:
    """A plain ASGI app on uvicorn: `GET /floor` is the poll's SELECT, its rows as JSON."""
    import json

    import uvicorn

    state: dict[str, Any] = {}
    sqlite = database_url.startswith("sqlite")

    async def startup() -> None:
        if sqlite:
            import aiosqlite

            path = database_url.split("///", 1)[1]
            state["db"] = await aiosqlite.connect(path, isolation_level=None)
            await state["db"].execute("PRAGMA busy_timeout=30000")
            state["sql"] = FLOOR_SQL.format(id="?", owner="?")
        else:
            import asyncpg

            dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
            state["db"] = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
            state["sql"] = FLOOR_SQL.format(id="$1", owner="$2")

    async def query() -> list[Any]:
        if sqlite:
            rows = await state["db"].execute_fetchall(state["sql"], (run_id, owner_id))
            return [list(row) for row in rows]
        return [list(row.values()) for row in await state["db"].fetch(state["sql"], run_id, owner_id)]

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = json.dumps(await query(), default=str).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


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
    """kadr / `bare` (the bare app or the floor)."""
    return {
        "rps": round(kadr["rps"] / bare["rps"], 3),
        "p50": round(kadr["p50_ms"] / bare["p50_ms"], 2),
        "p99": round(kadr["p99_ms"] / bare["p99_ms"], 2),
        "server_cpu_per_request": round(
            kadr["server_cpu_ms_per_request"] / max(1e-6, bare["server_cpu_ms_per_request"]), 1
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


def _owner_of(headers: dict[str, str]) -> str:
    """The user id in the bearer token (its `sub`), for the floor's query."""
    import base64
    import json

    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


@contextmanager
def _processing(base_url: str, headers: dict[str, str], video_id: str) -> Iterator[dict[str, int]]:
    """Runs of the sample processing in kadr's worker, one after another, for the block's length."""
    counts = {"started": 0, "finished": 0}
    stop = threading.Event()

    def keep_processing() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            while not stop.is_set():
                body = {"video_id": video_id, "profile": PROFILE, "use_cache": False}
                run = client.post("/v1/runs", json=body).json()
                counts["started"] += 1
                while not stop.is_set():
                    if client.get(f"/v1/runs/{run['id']}").json()["status"] in ("succeeded", "failed"):
                        counts["finished"] += 1
                        break
                    stop.wait(0.5)

    thread = threading.Thread(target=keep_processing, daemon=True)
    thread.start()
    time.sleep(1.0)  # the first run is past its start
    try:
        yield counts
    finally:
        stop.set()
        thread.join(timeout=60)


async def bench_stack(
    kadr_url: str,
    kadr_pid: int,
    bare_url: str,
    bare_pid: int,
    database_url: str,
    seconds: float,
    concurrency: int,
    log: Path,
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
    floor: Request = ("floor", "GET", "/floor", None)

    def polls(_rng: random.Random) -> Request:
        return poll

    def mixed(rng: random.Random) -> Request:
        return create if rng.random() < CREATE_SHARE else poll

    def bares(_rng: random.Random) -> Request:
        return bare

    def floors(_rng: random.Random) -> Request:
        return floor

    scenarios: dict[str, Any] = {}
    floor_args = (database_url, run["id"], _owner_of(headers))
    with bare_server(log.with_name("floor.log"), "floor", *floor_args) as (floor_url, floor_pid):
        for seed, name in enumerate(["poll", "mixed", "processing"]):
            kadr = Target("kadr", kadr_url, kadr_pid, headers, mixed if name == "mixed" else polls)
            targets = [kadr, Target("bare", bare_url, bare_pid, {}, bares)]
            if name != "mixed":
                targets.append(Target("floor", floor_url, floor_pid, {}, floors))
            if name == "processing":
                with _processing(kadr_url, headers, setup["video_id"]) as counts:
                    await _measure(targets, seconds, concurrency, 100 * seed)
            else:
                await _measure(targets, seconds, concurrency, 100 * seed)
            scenario = {t.name: t.result() for t in targets}
            scenario["ratio"] = _ratio(scenario["kadr"], scenario["bare"])
            if "floor" in scenario:
                scenario["ratio_to_floor"] = _ratio(scenario["kadr"], scenario["floor"])
            if name == "processing":
                scenario["runs_meanwhile"] = dict(counts)
            scenarios[name] = scenario
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
        data_dir = Path(tmp) / "var"
        database_url = settings.get("database_url") or f"sqlite:///{data_dir / 'kadr.db'}"
        with kadr_up(data_dir, log, log_level="WARNING", **settings) as (base_url, process):
            try:
                return asyncio.run(
                    bench_stack(
                        base_url,
                        process.popen.pid,
                        bare_url,
                        bare_pid,
                        database_url,
                        seconds,
                        concurrency,
                        log,
                    )
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
            for target in ("kadr", "bare", "floor"):
                if target not in scenario:
                    continue
                r = scenario[target]
                share = r["cpu_share"]
                print(
                    f"{stack:9} {name:8} {target:6} {r['requests']:>8} {r['errors']:>6} {r['rps']:>8.1f} "
                    f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['server_cpu_ms_per_request']:>14.3f}  "
                    f"{share['server']:>6.2f}{share['loadgen']:>6.2f}{share['other']:>6.2f}"
                )
            for key, label in (("ratio", "bare"), ("ratio_to_floor", "floor")):
                if key not in scenario:
                    continue
                ratio = scenario[key]
                print(
                    f"{'':9} {'':8} {'ratio':6} {'':8} {'':6} {ratio['rps']:>8.3f} "
                    f"{ratio['p50']:>8.2f} {ratio['p99']:>8.2f} "
                    f"{ratio['server_cpu_per_request']:>14.1f}  (kadr / {label})"
                )
            kinds = scenario["kadr"].get("by_kind")
            if kinds:
                for kind, r in kinds.items():
                    print(
                        f"{'':9} {'':8} {'  ' + kind:6} {r['requests']:>8} {r['errors']:>6} {r['rps']:>8.1f} "
                        f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}   statuses {r['statuses']}"
                    )


def _loop_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def _notes(concurrency: int, seconds: float) -> str:
    import uvicorn

    return " ".join(
        [
            "`kadr up` (API + in-process worker and scheduler, log level WARNING) and a bare FastAPI",
            "app (`GET /bare` returning a 3-key dict) each in its own OS process on uvicorn",
            f"{uvicorn.__version__}, one worker, started like cli.py's `_serve`",
            f"(loop 'auto': {_loop_name()}; http: httptools, kadr through its own protocol class).",
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
            "floor: a plain ASGI app (no framework) on the same uvicorn whose GET /floor runs the",
            "poll's SELECT (the run joined to its components) with the same driver on kadr's own",
            "database (one aiosqlite connection; an asyncpg pool of 10) and answers the rows as JSON:",
            "what the poll costs with nothing around the query. processing: the poll while runs of",
            f"the sample ({PROFILE}, cache off) process one after another in kadr's worker",
            "(runs_meanwhile counts them); the worker's CPU is in kadr's process, so its CPU per",
            "request there includes the processing and is an upper bound; p50/p99 are the figure.",
            "embedded: read-only requests begin their SQLite transactions DEFERRED, writers",
            "IMMEDIATE (core/db.py).",
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
    parser.add_argument(
        "--quick", action="store_true", help="3 s per scenario and target, 8 clients: a check that it works"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", nargs=4, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.serve_floor:
        port, database_url, run_id, owner_id = args.serve_floor
        serve_floor(int(port), database_url, run_id, owner_id)
        return
    if args.quick:
        args.seconds, args.concurrency = 4.0, 8
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
