"""Benchmark: the `default` profile on 1, 5 and 20 minute talks, against its floor.

For each length it runs the whole pipeline through the job system (`kadr process`'s
code path: database, worker thread, orchestrator, storage), then, in the same process,
the floor: the same Whisper model transcribing the same WAV directly, and plain ffmpeg
commands encoding the same clips (same cut points, geometry, encoder settings and
burned captions). The headline figure is pipeline wall time / floor wall time.

    .venv/bin/python bench/pipeline.py [--minutes 1 5 20]

Prints a table and writes bench/results/pipeline.json.
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
from kadr.pipeline.components.clips import caption_file, geometry_filter  # noqa: E402
from kadr.pipeline.models import get_whisper_model  # noqa: E402
from kadr.runs.local import process_file  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "talk.mp4"
from benchfile import write_results  # noqa: E402 - beside this script

RESULTS = ROOT / "bench" / "results" / "pipeline.json"
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


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
    """Peak resident memory of this process plus its children, sampled every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                total = me.memory_info().rss + sum(
                    child.memory_info().rss for child in me.children(recursive=True)
                )
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_pipeline(source: Path, work: Path) -> dict[str, Any]:
    settings = Settings(data_dir=work / "var", log_level="WARNING")
    out = work / "out"
    started = time.perf_counter()
    with PeakMemory() as memory:
        result = asyncio.run(process_file(settings, source, "default", {}, False, out))
    wall = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"pipeline run failed: {result.error}")
    manifest = json.loads((out / "manifest.json").read_text())
    components = {c["name"]: c["duration_seconds"] for c in manifest["components"]}
    cache_seconds = asyncio.run(cache_hit_seconds(settings))
    return {
        "wall_seconds": round(wall, 2),
        "components_seconds": components,
        "peak_rss_mb": round(memory.peak / 2**20, 1),
        "out": out,
        "plan": {c["name"]: c["params"] for c in manifest["components"]},
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


def floor_transcribe(wav: Path, params: dict[str, Any]) -> float:
    model = get_whisper_model(params.get("model", "tiny.en"), "cpu", "int8", 2)
    started = time.perf_counter()
    segments, _ = model.transcribe(
        str(wav), vad_filter=True, word_timestamps=True, beam_size=params.get("beam_size", 5)
    )
    for _ in segments:
        pass
    return time.perf_counter() - started


def floor_clips(
    source: Path, out: Path, transcript: dict[str, Any], clip_params: dict[str, Any], folder: Path
) -> float:
    """Plain ffmpeg commands making the same clips: same cuts, geometry, encoder settings and captions."""
    index = json.loads((out / "clips" / "clips.json").read_text())
    words = [w for s in transcript["segments"] for w in s.get("words", [])]
    elapsed = 0.0
    for entry in index:
        start, end = float(entry["start"]), float(entry["end"])
        size = (int(entry["width"]), int(entry["height"]))
        ass = folder / f"{Path(entry['name']).stem}.ass"
        caption_file(words, start, end, size, ass, int(clip_params.get("words_per_caption", 3)))
        video_filter = f"{geometry_filter(entry['aspect'], size)},subtitles={ass}:fontsdir={FONTS_DIR}"
        command = [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
            "-ss", f"{start:.3f}", "-i", str(source), "-t", f"{end - start:.3f}",
            "-vf", video_filter, "-c:v", "libx264", "-preset", str(clip_params.get("preset", "veryfast")),
            "-crf", str(clip_params.get("crf", 23)), "-pix_fmt", "yuv420p", "-c:a", "aac",
            str(folder / Path(entry["name"]).name),
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True)
        elapsed += time.perf_counter() - started
    return elapsed


def bench_length(minutes: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kadr-bench-") as tmp:
        work = Path(tmp)
        source = make_input(minutes, work)
        pipeline = run_pipeline(source, work)
        out: Path = pipeline.pop("out")
        plan = pipeline.pop("plan")
        transcript = json.loads((out / "transcript.json").read_text())
        floor_dir = work / "floor"
        floor_dir.mkdir()
        wav = floor_dir / "audio.wav"
        started = time.perf_counter()
        subprocess.run(
            [
                FFMPEG,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(source),
                "-vn",
                "-ac",
                "1",
                "-ar",
                "16000",
                "-c:a",
                "pcm_s16le",
                str(wav),
            ],
            check=True,
        )
        floor_audio = time.perf_counter() - started
        floor_asr = floor_transcribe(wav, plan.get("transcribe", {}))
        floor_encode = floor_clips(source, out, transcript, plan.get("clips", {}), floor_dir)
        floor_total = floor_audio + floor_asr + floor_encode
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
                "total_seconds": round(floor_total, 2),
            },
            "pipeline_over_floor": round(pipeline["wall_seconds"] / floor_total, 2),
            "clips": len(json.loads((out / "clips" / "clips.json").read_text())),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 20])
    args = parser.parse_args()
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
    document = {
        "benchmark": "pipeline",
        "profile": "default",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "ffmpeg": FFMPEG.rsplit("/", 1)[-1],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    write_results(RESULTS, document)


if __name__ == "__main__":
    main()
