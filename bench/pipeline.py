"""Benchmark: the `default` profile on 1 to 120 minute talks, against its floor, and peak memory.

For each length (the sample talk looped, stream-copied) it runs the whole pipeline through the
job system (`kadr process`'s code path: database, worker thread, orchestrator, storage) and
samples the peak RSS of the process and its children; then, in the same process, the floor:
the same work with nothing around it:
- the 16 kHz WAV extracted by one plain ffmpeg;
- the same Whisper model and decoding options transcribing that WAV directly (whole, not in
  the pipeline's pieces);
- the same clips: one ffmpeg per highlight that decodes it once and `split`s it into every
  aspect, with the same cut points, sizes, encoder settings, threads and burned captions
  (the component's own `render_args`);
- the same thumbnails (the component's own `thumbnail_args`).
The headline figure per length is pipeline wall time / floor wall time; `summary` holds the
worst ratio and the largest peak RSS against the goals (ratio <= 1.25 at every length, peak
RSS < 1 GiB).

    .venv/bin/python bench/pipeline.py [--minutes 1 5 20 60 120] [--out PATH]

Prints a table and writes bench/results/pipeline.json (or PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import imageio_ffmpeg  # noqa: E402
import psutil  # noqa: E402

from kadr.assets import FONTS_DIR  # noqa: E402
from kadr.config import Settings  # noqa: E402
from kadr.pipeline.components.clips import caption_file, geometry_filter, render_args  # noqa: E402
from kadr.pipeline.components.thumbnails import thumbnail_args, thumbnail_times  # noqa: E402
from kadr.pipeline.models import get_whisper_model  # noqa: E402
from kadr.runs.local import process_file  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "talk.mp4"
from benchfile import write_results  # noqa: E402 - beside this script

RESULTS = ROOT / "bench" / "results" / "pipeline.json"
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
DEFAULT_MINUTES = [1.0, 5.0, 20.0, 60.0, 120.0]
GOAL_PIPELINE_OVER_FLOOR = 1.25
GOAL_PEAK_RSS_MB = 1024.0  # < 1 GiB


def make_input(minutes: float, folder: Path) -> Path:
    """A talk of the given length: the sample looped (real speech throughout), stream-copied."""
    target = folder / f"talk_{minutes:g}min.mp4"
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(SAMPLE),
            "-t",
            str(minutes * 60),
            "-c",
            "copy",
            str(target),
        ],
        check=True,
    )
    return target


class PeakMemory:
    """Peak resident memory of this process plus its children, sampled every 50 ms, overall
    and per pipeline component (`label` is the component running), split into this process
    (Python, Whisper, the job system) and its children (ffmpeg)."""

    def __init__(self) -> None:
        self.peak = 0
        self.label = "setup"
        self.by_label: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                own = me.memory_info().rss
                children = sum(child.memory_info().rss for child in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, own + children)
            entry = self.by_label.setdefault(self.label, {"total": 0, "process": 0, "children": 0})
            entry["total"] = max(entry["total"], own + children)
            entry["process"] = max(entry["process"], own)
            entry["children"] = max(entry["children"], children)
            self._stop.wait(0.05)

    def follow(self, run: Any) -> None:
        """`process_file`'s on_update: label samples with the component that is running."""
        running = [c.name for c in run.components if c.status == "running"]
        self.label = ",".join(running) if running else "between components"

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, dict[str, float]]:
        return {
            label: {key: round(value / 2**20, 1) for key, value in entry.items()}
            for label, entry in self.by_label.items()
        }


def run_pipeline(source: Path, work: Path) -> dict[str, Any]:
    settings = Settings(data_dir=work / "var", log_level="WARNING")
    out = work / "out"
    started = time.perf_counter()
    with PeakMemory() as memory:
        result = asyncio.run(process_file(settings, source, "default", {}, False, out, memory.follow))
    wall = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"pipeline run failed: {result.error}")
    manifest = json.loads((out / "manifest.json").read_text())
    components = {c["name"]: c["duration_seconds"] for c in manifest["components"]}
    summaries = {c["name"]: c["summary"] for c in manifest["components"]}
    cache_seconds = asyncio.run(cache_hit_seconds(settings))
    return {
        "wall_seconds": round(wall, 2),
        "components_seconds": components,
        "peak_rss_mb": round(memory.peak / 2**20, 1),
        "peak_rss_mb_by_component": memory.report(),
        "out": str(out),
        "plan": {c["name"]: c["params"] for c in manifest["components"]},
        "summaries": summaries,
        "cache_hit_median_ms": round(cache_seconds * 1000, 1),
    }


async def cache_hit_seconds(settings: Settings, repeats: int = 5) -> float:
    """Median time for RunService.create_run to answer the same run again from cache."""
    from kadr.accounts.service import get_or_create_local_user
    from kadr.core.db import dispose_database, get_database
    from kadr.runs.local import LOCAL_USER_EMAIL
    from kadr.runs.service import RunService
    from kadr.videos.repository import VideoRepository

    timings = []
    try:
        async with get_database(settings).session() as session:
            owner = await get_or_create_local_user(session, LOCAL_USER_EMAIL)
            videos, _ = await VideoRepository(session).list_page(owner, 1, 0)
            for _ in range(repeats):
                started = time.perf_counter()
                _, cached = await RunService(session, settings).create_run(owner, videos[0].id, "default")
                timings.append(time.perf_counter() - started)
                if not cached:
                    raise SystemExit("the repeated run was not answered from cache")
    finally:
        await dispose_database()
    return sorted(timings)[len(timings) // 2]


def pipeline_in_fresh_process(source: Path, work: Path) -> dict[str, Any]:
    """`run_pipeline` in a new Python process, as a worker starts: its peak RSS is the
    pipeline's own, not what this process kept from the previous length's floor."""
    completed = subprocess.run(
        [sys.executable, __file__, "--pipeline-only", str(source), str(work)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def ffmpeg(args: list[str]) -> float:
    """Run the bundled ffmpeg plainly; its wall time."""
    started = time.perf_counter()
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", *args], check=True)
    return time.perf_counter() - started


def floor_transcribe(wav: Path, params: dict[str, Any], settings: Settings) -> float:
    """The WAV through the same model and decoding options in one call (no pieces)."""
    model = get_whisper_model(
        params.get("model", "tiny.en"),
        settings.asr_device,
        settings.asr_compute_type,
        settings.asr_threads,
        settings.model_cache_dir,
    )
    language = params.get("language") or ("en" if str(params.get("model", "")).endswith(".en") else None)
    started = time.perf_counter()
    segments, _ = model.transcribe(
        str(wav),
        language=language,
        beam_size=int(params.get("beam_size", 5)),
        vad_filter=bool(params.get("vad", True)),
        word_timestamps=True,
        condition_on_previous_text=False,
    )
    for _ in segments:
        pass
    return time.perf_counter() - started


def floor_clips(
    source: Path,
    out: Path,
    transcript: dict[str, Any],
    clip_params: dict[str, Any],
    threads: int,
    has_audio: bool,
    folder: Path,
) -> tuple[float, int]:
    """The pipeline's clips by plain ffmpeg: one run per highlight for all its aspects. Returns
    the wall time (caption files included) and the number of ffmpeg runs."""
    index = json.loads((out / "clips" / "clips.json").read_text())
    words = [w for s in transcript["segments"] for w in s.get("words", [])]
    highlights: dict[int, list[dict[str, Any]]] = {}
    for entry in index:
        highlights.setdefault(int(entry["rank"]), []).append(entry)
    elapsed = 0.0
    for entries in highlights.values():
        started = time.perf_counter()
        start, end = float(entries[0]["start"]), float(entries[0]["end"])
        outputs: list[tuple[Path, str]] = []
        for entry in entries:
            size = (int(entry["width"]), int(entry["height"]))
            video_filter = geometry_filter(entry["aspect"], size)
            ass = folder / f"{Path(entry['name']).stem}.ass"
            per_caption = int(clip_params.get("words_per_caption", 3))
            if clip_params.get("captions", True) and caption_file(words, start, end, size, ass, per_caption):
                video_filter += f",subtitles={ass}:fontsdir={FONTS_DIR}"
            outputs.append((folder / Path(entry["name"]).name, video_filter))
        args = render_args(
            source,
            start,
            end,
            outputs,
            preset=str(clip_params.get("preset", "veryfast")),
            crf=int(clip_params.get("crf", 23)),
            threads=threads,
            audio_bitrate=str(clip_params.get("audio_bitrate", "128k")) if has_audio else None,
        )
        elapsed += time.perf_counter() - started
        elapsed += ffmpeg(args)
    return elapsed, len(highlights)


def floor_thumbnails(source: Path, duration: float, params: dict[str, Any], folder: Path) -> float:
    count = max(1, int(params.get("count", 3)))
    side = int(params.get("long_side", 1280))
    return sum(
        ffmpeg(thumbnail_args(source, at, side, folder / f"thumb_{i + 1:02d}.jpg"))
        for i, at in enumerate(thumbnail_times(duration, count))
    )


def bench_length(minutes: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kadr-bench-") as tmp:
        work = Path(tmp)
        source = make_input(minutes, work)
        pipeline = pipeline_in_fresh_process(source, work)
        out = Path(pipeline.pop("out"))
        plan = pipeline.pop("plan")
        summaries = pipeline.pop("summaries")
        transcript = json.loads((out / "transcript.json").read_text())
        probe = json.loads((out / "probe.json").read_text())
        settings = Settings(data_dir=work / "var")
        floor_dir = work / "floor"
        floor_dir.mkdir()
        wav = floor_dir / "audio.wav"
        floor_audio = ffmpeg(
            ["-y", "-i", str(source), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(wav)]
        )
        floor_asr = floor_transcribe(wav, plan.get("transcribe", {}), settings)
        clip_params = plan.get("clips", {})
        threads = int(summaries.get("clips", {}).get("encoder_threads") or clip_params.get("threads") or 1)
        floor_encode, ffmpeg_runs = floor_clips(
            source, out, transcript, clip_params, threads, bool(probe.get("has_audio", True)), floor_dir
        )
        floor_thumbs = (
            floor_thumbnails(source, float(probe["duration"]), plan["thumbnails"], floor_dir)
            if "thumbnails" in plan
            else 0.0
        )
        floor_total = floor_audio + floor_asr + floor_encode + floor_thumbs
        duration = minutes * 60
        return {
            "minutes": minutes,
            "source_seconds": duration,
            "pipeline": pipeline,
            "pipeline_real_time_factor": round(pipeline["wall_seconds"] / duration, 3),
            "floor": {
                "extract_audio_seconds": round(floor_audio, 2),
                "transcribe_seconds": round(floor_asr, 2),
                "encode_clips_seconds": round(floor_encode, 2),
                "clip_ffmpeg_runs": ffmpeg_runs,
                "encoder_threads": threads,
                "thumbnails_seconds": round(floor_thumbs, 2),
                "total_seconds": round(floor_total, 2),
            },
            "pipeline_over_floor": round(pipeline["wall_seconds"] / floor_total, 2),
            "clips": len(json.loads((out / "clips" / "clips.json").read_text())),
        }


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The worst ratio and the largest peak RSS over the lengths measured, against the goals."""
    worst = max(results, key=lambda r: r["pipeline_over_floor"])
    largest = max(results, key=lambda r: r["pipeline"]["peak_rss_mb"])
    measured = [r["minutes"] for r in results]
    return {
        "minutes_measured": measured,
        "all_default_lengths": all(m in measured for m in DEFAULT_MINUTES),
        "worst_pipeline_over_floor": worst["pipeline_over_floor"],
        "worst_pipeline_over_floor_at_minutes": worst["minutes"],
        "goal_pipeline_over_floor_at_most": GOAL_PIPELINE_OVER_FLOOR,
        "pipeline_over_floor_goal_met": worst["pipeline_over_floor"] <= GOAL_PIPELINE_OVER_FLOOR,
        "max_peak_rss_mb": largest["pipeline"]["peak_rss_mb"],
        "max_peak_rss_at_minutes": largest["minutes"],
        "goal_peak_rss_mb_below": GOAL_PEAK_RSS_MB,
        "peak_rss_goal_met": largest["pipeline"]["peak_rss_mb"] < GOAL_PEAK_RSS_MB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=DEFAULT_MINUTES)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--pipeline-only", nargs=2, metavar=("SOURCE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline_only:
        source, work = (Path(value) for value in args.pipeline_only)
        print("\n" + json.dumps(run_pipeline(source, work)), flush=True)
        return
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    results = []
    for minutes in args.minutes:
        print(f"--- {minutes:g} min", flush=True)
        result = bench_length(minutes)
        results.append(result)
        p = result["pipeline"]
        print(
            f"pipeline {p['wall_seconds']:.1f}s (RTF {result['pipeline_real_time_factor']}), "
            f"floor {result['floor']['total_seconds']:.1f}s, ratio {result['pipeline_over_floor']}x, "
            f"peak RSS {p['peak_rss_mb']} MB, clips {result['clips']}, "
            f"cache hit {p['cache_hit_median_ms']} ms",
            flush=True,
        )
        print(
            "  components: " + ", ".join(f"{k} {v:.2f}s" for k, v in p["components_seconds"].items()),
            flush=True,
        )
        print(
            "  peak RSS MB (process + ffmpeg): "
            + ", ".join(
                f"{label} {m['process']:.0f}+{m['children']:.0f}"
                for label, m in p["peak_rss_mb_by_component"].items()
            ),
            flush=True,
        )
    summary = summarize(results)
    print(
        f"worst pipeline/floor {summary['worst_pipeline_over_floor']}x at "
        f"{summary['worst_pipeline_over_floor_at_minutes']:g} min (goal <= {GOAL_PIPELINE_OVER_FLOOR}); "
        f"max peak RSS {summary['max_peak_rss_mb']} MB at {summary['max_peak_rss_at_minutes']:g} min "
        f"(goal < {GOAL_PEAK_RSS_MB:g} MB)",
        flush=True,
    )
    document = {
        "benchmark": "pipeline",
        "profile": "default",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            #: Whatever else ran meanwhile slows pipeline and floor alike; the ratio holds up
            #: better than the wall times, which are only comparable between idle runs.
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        },
        "ffmpeg": FFMPEG.rsplit("/", 1)[-1],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": "peak_rss_mb: MiB, this process and its children sampled every 50 ms during the "
        "pipeline run (each length in a fresh process), with peaks per component split into "
        "the Python process and its ffmpeg children. Floor: plain ffmpeg and faster-whisper doing the "
        "same work (see the docstring).",
        "summary": summary,
        "results": results,
    }
    write_results(args.out.resolve(), document)


if __name__ == "__main__":
    main()
