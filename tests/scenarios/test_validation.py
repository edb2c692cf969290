"""The timing check people and the model both answer to: every problem names its scene."""

from __future__ import annotations

from typing import Any

import pytest

from kadr.scenarios.checks import (
    count_words,
    default_words_per_minute,
    max_words,
    nominal_words,
    recut_problems,
    repetition_problems,
    timing_problem,
    timing_problems,
)
from kadr.scenarios.schemas import RecutDraft, ScenarioDraft, Scene, TitleIdeas


def scene(n: int, seconds: float, words: int = 3, **extra: Any) -> Scene:
    return Scene(
        n=n,
        duration_s=seconds,
        visual="a street",
        shot="wide",
        narration=" ".join(["word"] * words),
        **extra,
    )


def test_scenes_that_add_up_and_fit_pass() -> None:
    scenes = [scene(1, 20, 50), scene(2, 20, 50), scene(3, 20, 50)]
    assert timing_problems(scenes, 60, 150) == []
    # ±10 %: 54 s and 66 s are still on target, 53 s is not.
    assert timing_problem([scene(1, 27), scene(2, 27)], 60, 150) is None
    assert timing_problem([scene(1, 33), scene(2, 33)], 60, 150) is None
    assert timing_problem([scene(1, 26.5), scene(2, 26.5)], 60, 150) is not None


def test_too_long_in_all_names_the_longest_scene_and_lists_every_length() -> None:
    problem = timing_problem([scene(1, 10), scene(2, 40), scene(3, 35)], 60, 150)
    assert problem is not None
    assert "85 s in all" in problem and "54-66 s" in problem
    assert "scene 2 is the longest" in problem and "by 25 s" in problem
    assert "scene 1: 10 s, scene 2: 40 s, scene 3: 35 s" in problem


def test_too_short_in_all_names_the_shortest_scene() -> None:
    (problem,) = timing_problems([scene(1, 10), scene(2, 5), scene(3, 15)], 60, 150)
    assert problem.scene == 2 and "scene 2 is the shortest" in problem.message


def test_narration_that_cannot_be_spoken_in_its_scene_is_named() -> None:
    # 4 s at 150 words per minute hold 10 words (11 at a pace 10 % faster); scene 2 says 25.
    problems = timing_problems([scene(1, 28, 10), scene(2, 4, 25), scene(3, 28, 10)], 60, 150)
    assert [p.scene for p in problems] == [2]
    assert "scene 2: its narration has 25 words" in problems[0].message
    assert "at most 11" in problems[0].message
    # The same words fit at a faster speaker's pace.
    assert timing_problems([scene(1, 28, 10), scene(2, 4, 25), scene(3, 28, 10)], 60, 400) == []


def test_scenes_must_be_numbered_in_order() -> None:
    problems = timing_problems([scene(1, 30), scene(3, 30)], 60, 150)
    assert [p.scene for p in problems] == [2]
    assert "scene 2 is numbered 3" in problems[0].message


def test_every_problem_is_told_at_once() -> None:
    problem = timing_problem([scene(1, 4, 40), scene(2, 100)], 60, 150)
    assert problem is not None
    assert "scene 1: its narration has 40 words" in problem and "scene 2 is the longest" in problem


def test_source_times_must_be_in_order() -> None:
    (problem,) = timing_problems([scene(1, 60, source_start=30.0, source_end=10.0)], 60, 150)
    assert problem.scene == 1 and "source_end (10 s) must be after source_start (30 s)" in problem.message


def test_a_recut_scene_lasts_as_long_as_its_piece_of_the_source() -> None:
    good = [scene(1, 10, source_start=5.0, source_end=15.0), scene(2, 5, source_start=30.0, source_end=35.2)]
    assert recut_problems(good, 120.0) == []
    (wrong_length,) = recut_problems([scene(1, 10, source_start=5.0, source_end=25.0)], 120.0)
    assert "scene 1: duration_s is 10 s, but its piece" in wrong_length.message
    assert "(5-25 s) lasts 20 s" in wrong_length.message
    (past_end,) = recut_problems([scene(1, 10, source_start=115.0, source_end=125.0)], 120.0)
    assert "past the end of the source (120 s)" in past_end.message
    (missing,) = recut_problems([scene(1, 10)], 120.0)
    assert "give its source_start and source_end" in missing.message


def test_a_looping_model_is_told_which_scene_repeats_which() -> None:
    scenes = [scene(1, 20, 5), scene(2, 20, 4), scene(3, 20, 5)]
    (problem,) = repetition_problems(scenes)
    assert problem.scene == 3 and "scene 3 repeats the narration of scene 1" in problem.message
    assert timing_problems(scenes, 60, 150) == [], "people may repeat a line: only generation asks"


@pytest.mark.parametrize(
    ("language", "expected"), [("en", 150), ("ru", 130), ("pt-BR", 140), ("RU", 130), ("xx", 140)]
)
def test_words_per_minute_by_language(language: str, expected: int) -> None:
    assert default_words_per_minute(language) == expected


def test_words_are_counted_as_a_speaker_says_them() -> None:
    assert count_words("Don't stop — it's 2026, из-за дождя!") == 6
    assert count_words("  ") == 0
    assert max_words(8, 150) == 22 and max_words(2.5, 130) == 6, "a speaker's pace varies by 10 %"
    assert nominal_words(8, 150) == 20


def _unbounded(schema: dict[str, Any]) -> list[str]:
    """Paths of arrays without maxItems and strings without maxLength (small models run past them)."""
    found: list[str] = []
    definitions = schema.get("$defs", {})

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            walk(definitions[node["$ref"].rsplit("/", 1)[-1]], path)
        if node.get("type") == "array":
            if "maxItems" not in node:
                found.append(path)
            walk(node.get("items"), path + "[]")
        if node.get("type") == "string" and "maxLength" not in node:
            found.append(path)
        for key, child in node.get("properties", {}).items():
            walk(child, f"{path}.{key}")
        for child in node.get("anyOf", []):
            walk(child, path)

    walk(schema, "$")
    return found


@pytest.mark.parametrize("model", [ScenarioDraft, RecutDraft, TitleIdeas, Scene])
def test_what_the_model_writes_is_bounded(model: type[ScenarioDraft]) -> None:
    assert _unbounded(model.model_json_schema()) == []


def test_generated_durations_are_shared_by_what_each_scene_says_when_the_words_fit() -> None:
    from kadr.scenarios.checks import fit_durations, timing_problems
    from kadr.scenarios.schemas import Scene

    words = "word " * 20  # 20 words: 8 s at 150 words per minute
    scenes = [
        Scene(n=1, duration_s=5, narration=words, visual="v", shot="s", on_screen_text=""),
        Scene(n=2, duration_s=5, narration=words * 2, visual="v", shot="s", on_screen_text=""),
        Scene(n=3, duration_s=5, narration="", visual="v", shot="s", on_screen_text=""),
    ]
    assert timing_problems(scenes, 30, 150), "15 s of scenes for a 30 s target is off"
    assert fit_durations(scenes, 30, 150)
    assert sum(scene.duration_s for scene in scenes) == pytest.approx(30)
    assert scenes[1].duration_s > scenes[0].duration_s > scenes[2].duration_s > 0
    assert timing_problems(scenes, 30, 150) == []
    # Too much to say for the target: left as it is, for the model to shorten.
    talkative = [Scene(n=1, duration_s=10, narration=words * 5, visual="v", shot="s", on_screen_text="")]
    assert not fit_durations(talkative, 10, 150)
    assert talkative[0].duration_s == 10 and timing_problems(talkative, 10, 150)
