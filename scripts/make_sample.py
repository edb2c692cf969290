"""Make the committed sample talks: real speech over simple slides.

- tests/data/talk.mp4 (~45 s, English, espeak-ng): `python scripts/make_sample.py`
- tests/data/talk_ru.mp4 (~30 s, Russian, Festival's msu_ru_nsh voice from festvox-ru, the one
  Russian voice Whisper recognises reliably): `python scripts/make_sample.py ru`

Each needs its Debian speech package only when regenerating (`apt-get install espeak-ng`, or
`festival festvox-ru`); the results are committed, so tests and CI never need them. The spoken
text goes beside each video (`talk.txt`, `talk_ru.txt`) as the reference transcript.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
FONT = ROOT / "src" / "kadr" / "assets" / "fonts" / "DejaVuSans-Bold.ttf"

#: (slide title, spoken text). Distinct topics, hooks and numbers give the highlight scorer something to find.
SLIDES = [
    ("Attention", "Welcome to this short talk about making videos that people actually watch."),
    (
        "The first mistake",
        "The biggest mistake creators make is a slow start. "
        "You have about three seconds to earn attention, so open with your most surprising idea.",
    ),
    (
        "Be specific",
        "Keep every sentence short and concrete. "
        "Nobody remembers a vague promise, "
        "but everyone remembers a number, like ten thousand views in one week.",
    ),
    (
        "The secret",
        "Here is the secret that changed everything for our team. "
        "We stopped guessing, measured which moments people shared, "
        "and cut those moments into vertical clips.",
    ),
    (
        "Why it works",
        "Why does this work? Short clips travel further than long videos, "
        "and captions let people watch without sound on a busy train.",
    ),
    ("Thank you", "Finally, publish on a schedule. Consistency beats intensity. Thank you for listening."),
]
SLIDES_RU = [
    ("Внимание", "Добрый день. Сегодня мы поговорим о том, как снимать короткие видео."),
    (
        "Первая ошибка",
        "Главная ошибка авторов: медленное начало. Всего три секунды решают, досмотрит ли зритель ролик.",
    ),
    (
        "Конкретика",
        "Говорите коротко и конкретно. Зрители запоминают числа, например десять тысяч просмотров.",
    ),
    ("Спасибо", "Публикуйте видео по расписанию. Спасибо, что досмотрели до конца."),
]


def run(*command: str) -> None:
    subprocess.run(command, check=True)


def speak_english(text: str, wav: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is needed to regenerate the sample: apt-get install espeak-ng")
    run(espeak, "-v", "en-us", "-s", "165", "-g", "4", "-w", str(wav), text)


def speak_russian(text: str, wav: Path) -> None:
    festival = shutil.which("festival")
    if festival is None:
        sys.exit("Festival is needed to regenerate the Russian sample: apt-get install festival festvox-ru")
    quoted = text.replace("\\", "").replace('"', "")
    script = f'(voice_msu_ru_nsh_clunits) (utt.save.wave (SynthText "{quoted}") "{wav}")'
    subprocess.run([festival, "--pipe"], input=script.encode(), check=True)


def make_talk(
    name: str, slides: list[tuple[str, str]], speak: Callable[[str, Path], None], label: str
) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        parts: list[Path] = []
        durations: list[float] = []
        for index, (_, text) in enumerate(slides):
            wav = work / f"part{index}.wav"
            speak(text, wav)
            parts.append(wav)
            probe = subprocess.run([ffmpeg, "-i", str(wav)], capture_output=True, text=True).stderr
            stamp = probe.split("Duration: ")[1].split(",")[0]
            hours, minutes, seconds = stamp.split(":")
            durations.append(int(hours) * 3600 + int(minutes) * 60 + float(seconds) + 0.6)
        # Speech with a short pause after each slide.
        concat = work / "speech.txt"
        silence = work / "pause.wav"
        run(
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=22050:cl=mono",
            "-t",
            "0.6",
            str(silence),
        )
        concat.write_text("".join(f"file '{p}'\nfile '{silence}'\n" for p in parts))
        speech = work / "speech.wav"
        run(
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(concat),
            "-c",
            "copy",
            str(speech),
        )
        # One slide per topic: a coloured card with its title, shown while it is spoken.
        texts = []
        start = 0.0
        for (title, _), length in zip(slides, durations, strict=True):
            (work / f"title{len(texts)}.txt").write_text(title)
            texts.append(
                f"drawtext=fontfile='{FONT}':textfile='{work / f'title{len(texts)}.txt'}':fontsize=72:"
                f"fontcolor=white:x=(w-tw)/2:y=(h-th)/2:enable='between(t,{start:.2f},{start + length:.2f})'"
            )
            start += length
        video_filter = ",".join(
            [
                *texts,
                f"drawtext=fontfile='{FONT}':text='{label}':fontsize=28:fontcolor=0xdddddd:x=40:y=h-60",
            ]
        )
        output = DATA / f"{name}.mp4"
        run(
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c=0x1e3a5f:s=1280x720:r=15:d={start:.2f}",
            "-i",
            str(speech),
            "-vf",
            video_filter,
            "-c:v",
            "libx264",
            "-preset",
            "slow",
            "-crf",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "48k",
            "-ac",
            "1",
            "-shortest",
            "-movflags",
            "+faststart",
            str(output),
        )
    (DATA / f"{name}.txt").write_text("\n".join(text for _, text in slides) + "\n")
    print(f"wrote {output} ({output.stat().st_size} bytes, {start:.1f} s)")


def main() -> None:
    if sys.argv[1:] == ["ru"]:
        make_talk("talk_ru", SLIDES_RU, speak_russian, "kadr sample talk, ru")
    else:
        make_talk("talk", SLIDES, speak_english, "kadr sample talk")


if __name__ == "__main__":
    main()
