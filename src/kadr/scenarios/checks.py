"""Does a scenario's timing hold? One check for people (PUT/POST answer 422) and for the
language model (the gateway's `check=`, so the model is re-asked with the exact problem).

Scene durations must add up to the target within `DURATION_TOLERANCE`, and each scene's
narration must be speakable in its duration at the scenario's words per minute (a speaker's
pace varies as much: the same tolerance). Every problem names its scene.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kadr.scenarios.schemas import Scene

DURATION_TOLERANCE = 0.10
#: Narration speed by language when a scenario does not say (words per minute, read aloud).
WORDS_PER_MINUTE = {"en": 150, "ru": 130, "uk": 130, "de": 130, "pl": 130, "fr": 150, "es": 160, "it": 150}
OTHER_WORDS_PER_MINUTE = 140
#: How far a re-cut scene's duration may differ from the piece of the source it shows.
RECUT_SLACK_SECONDS = 0.5
#: A word: letters or digits, with inner hyphens or apostrophes ("don't", "из-за" are one).
_WORD = re.compile(r"\w+(?:[-'\u2019]\w+)*")


@dataclass(frozen=True)
class TimingProblem:
    #: The scene at fault (its number), or None for the scenario as a whole.
    scene: int | None
    message: str


def default_words_per_minute(language: str) -> int:
    return WORDS_PER_MINUTE.get(language.split("-", 1)[0].lower(), OTHER_WORDS_PER_MINUTE)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def nominal_words(duration_s: float, words_per_minute: int) -> int:
    """The narration words `duration_s` seconds hold at exactly `words_per_minute`."""
    return math.floor(duration_s * words_per_minute / 60 + 0.5)


def max_words(duration_s: float, words_per_minute: int) -> int:
    """The most narration words `duration_s` seconds hold at `words_per_minute`, a speaker
    talking up to DURATION_TOLERANCE faster."""
    return math.floor(duration_s * words_per_minute * (1 + DURATION_TOLERANCE) / 60 + 0.5)


def timing_problems(
    scenes: Sequence[Scene], target_duration_s: float, words_per_minute: int
) -> list[TimingProblem]:
    """Everything wrong with the scenes' timing, each naming its scene; empty when it holds."""
    problems: list[TimingProblem] = []
    for position, scene in enumerate(scenes, 1):
        if scene.n != position:
            problems.append(
                TimingProblem(
                    position,
                    f"scene {position} is numbered {scene.n}: number the scenes 1, 2, 3… in order",
                )
            )
    for scene in scenes:
        words, most = count_words(scene.narration), max_words(scene.duration_s, words_per_minute)
        if words > most:
            problems.append(
                TimingProblem(
                    scene.n,
                    f"scene {scene.n}: its narration has {words} words, but {scene.duration_s:g} s at "
                    f"{words_per_minute} words per minute holds at most {most}: shorten the narration "
                    "or lengthen the scene",
                )
            )
        start, end = scene.source_start, scene.source_end
        if start is not None and end is not None and end <= start:
            problems.append(
                TimingProblem(
                    scene.n,
                    f"scene {scene.n}: source_end ({end:g} s) must be after source_start ({start:g} s)",
                )
            )
    total = sum(scene.duration_s for scene in scenes)
    low, high = target_duration_s * (1 - DURATION_TOLERANCE), target_duration_s * (1 + DURATION_TOLERANCE)
    if scenes and not low <= total <= high:
        problems.append(_total_problem(scenes, total, target_duration_s, low, high))
    return problems


def _total_problem(
    scenes: Sequence[Scene], total: float, target: float, low: float, high: float
) -> TimingProblem:
    """The sum is off: name the scene whose change fixes it best (the longest when too long,
    the shortest when too short), and list every scene's length so all of them can be judged."""
    too_long = total > high
    scene = max(scenes, key=lambda s: s.duration_s) if too_long else min(scenes, key=lambda s: s.duration_s)
    change = total - target
    lengths = ", ".join(f"scene {s.n}: {s.duration_s:g} s" for s in scenes)
    verb = "shorten" if too_long else "lengthen"
    return TimingProblem(
        scene.n,
        f"the scenes last {total:g} s in all ({lengths}), but the target is {target:g} s "
        f"(±{DURATION_TOLERANCE:.0%}: {low:g}-{high:g} s): scene {scene.n} is the "
        f"{'longest' if too_long else 'shortest'}; {verb} it (or others) by {abs(change):g} s in all",
    )


#: The shortest scene `fit_durations` gives a scene without narration.
MIN_SCENE_SECONDS = 1.5


def fit_durations(scenes: Sequence[Scene], target_duration_s: float, words_per_minute: int) -> bool:
    """Share the target duration among the scenes by how much each one says, in place, when
    the narration as a whole can be spoken in it; False (nothing changed) when it cannot.

    Durations are a plan the program can make add up exactly; the words are what only the
    model can change. So a generated draft whose narration fits the target overall is not sent
    back for arithmetic (the small embedded model rarely gets the sum and every scene right at
    once); one that says too much still is, with the scene named."""
    needed = [
        max(MIN_SCENE_SECONDS, count_words(scene.narration) * 60 / words_per_minute) for scene in scenes
    ]
    total = sum(needed)
    if not scenes or total > target_duration_s * (1 + DURATION_TOLERANCE):
        return False
    shares = [round(seconds * target_duration_s / total, 1) for seconds in needed]
    shares[-1] = round(target_duration_s - sum(shares[:-1]), 1)
    if shares[-1] <= 0:
        return False
    for scene, seconds in zip(scenes, shares, strict=True):
        scene.duration_s = seconds
    return True


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _shortened(text: str, budget: int) -> str:
    """`text` cut to at most `budget` words: whole sentences while they fit, else the words."""
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if count_words(" ".join([*kept, sentence])) > budget:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    return " ".join(text.split()[:budget]).rstrip(",;:—-") + "…"


def trim_to_fit(scenes: Sequence[Scene], target_duration_s: float, words_per_minute: int) -> int:
    """Shorten narration that cannot be spoken in the target, in place, each scene by its share
    of the excess; then share the target among the scenes. The words removed (0: it fitted).

    The last resort after the model was asked to shorten and did not: a scenario a few
    sentences shorter than the model wrote is worth more to its author than a failed job."""
    total = sum(count_words(scene.narration) for scene in scenes)
    if total <= max_words(target_duration_s, words_per_minute):
        return 0
    budget = nominal_words(target_duration_s, words_per_minute)  # the tolerance left for rounding
    for scene in scenes:
        words = count_words(scene.narration)
        if words:
            scene.narration = _shortened(scene.narration, max(1, words * budget // total))
    fit_durations(scenes, target_duration_s, words_per_minute)
    return total - sum(count_words(scene.narration) for scene in scenes)


def repetition_problems(scenes: Sequence[Scene]) -> list[TimingProblem]:
    """Scenes whose narration repeats an earlier one word for word: what a small model does when
    it loops. Only generation asks this (a person may repeat a line on purpose)."""
    problems: list[TimingProblem] = []
    said: dict[str, int] = {}
    for scene in scenes:
        key = " ".join(_WORD.findall(scene.narration.casefold()))
        if key and key in said:
            problems.append(
                TimingProblem(
                    scene.n,
                    f"scene {scene.n} repeats the narration of scene {said[key]}: every scene must say "
                    "something new",
                )
            )
        said.setdefault(key, scene.n)
    return problems


def recut_problems(scenes: Sequence[Scene], source_duration_s: float) -> list[TimingProblem]:
    """What is wrong with a re-cut plan's pieces of the source: each scene must name one inside
    the source and last as long as it."""
    problems: list[TimingProblem] = []
    for scene in scenes:
        start, end = scene.source_start, scene.source_end
        if start is None or end is None:
            problems.append(TimingProblem(scene.n, f"scene {scene.n}: give its source_start and source_end"))
            continue
        if source_duration_s and end > source_duration_s + RECUT_SLACK_SECONDS:
            problems.append(
                TimingProblem(
                    scene.n,
                    f"scene {scene.n}: source_end {end:g} s is past the end of the source "
                    f"({source_duration_s:g} s)",
                )
            )
        if end > start and abs(scene.duration_s - (end - start)) > RECUT_SLACK_SECONDS:
            problems.append(
                TimingProblem(
                    scene.n,
                    f"scene {scene.n}: duration_s is {scene.duration_s:g} s, but its piece of the source "
                    f"({start:g}-{end:g} s) lasts {end - start:g} s: make them equal",
                )
            )
    return problems


def describe(problems: Sequence[TimingProblem]) -> str | None:
    """The problems as one statement (a 422's detail, a re-ask), or None when there are none."""
    return "; ".join(problem.message for problem in problems) or None


def timing_problem(scenes: Sequence[Scene], target_duration_s: float, words_per_minute: int) -> str | None:
    """`timing_problems` in words: what the gateway's `check=` and a 422 say."""
    return describe(timing_problems(scenes, target_duration_s, words_per_minute))
