"""highlights with `engine: llm`: the local scorer proposes windows of whole sentences, the
language model chooses among them and names each chosen moment.

The model answers with candidate numbers, never times: every cut still falls on the
sentence boundaries the local scorer found, so a model cannot cut a clip mid-word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from kadr.llm.language import transcript_language_name
from kadr.llm.prompts import get_prompt
from kadr.pipeline.model_calls import ModelCalls

PROMPT_ID = "highlights.rank"
#: The model is shown this many candidates per moment wanted.
CANDIDATES_PER_MOMENT = 3
#: The most moments one answer may name (the schema's bound, so small models stop).
MAX_MOMENTS = 20
#: A candidate's text is cut here in the prompt: enough to judge it, and the prompt stays
#: inside a small model's context (3 x 5 candidates of a minute each).
CANDIDATE_TEXT_CHARS = 600


@dataclass(frozen=True)
class Candidate:
    """A window the model may choose: cut points from the local scorer, and what is said."""

    number: int
    start: float
    end: float
    text: str
    local_score: float
    local_reason: str
    #: The sentences it spans (indexes into the transcript's sentences).
    first_sentence: int
    last_sentence: int

    def shares_sentences(self, other: Candidate) -> bool:
        """Whether both clips would show a sentence (their padding around the words may touch)."""
        return self.first_sentence <= other.last_sentence and other.first_sentence <= self.last_sentence


class RankedMoment(BaseModel):
    candidate: int = Field(description="The number of the chosen candidate")
    title: str = Field(min_length=1, max_length=100, description="A hook title, at most 70 characters")
    reason: str = Field(min_length=1, max_length=200, description="One line: why people would watch it")
    score: float = Field(ge=0.0, le=1.0, description="How strong the moment is, 0 to 1")


class HighlightRanking(BaseModel):
    moments: list[RankedMoment] = Field(min_length=1, max_length=MAX_MOMENTS)


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def candidates_block(candidates: list[Candidate]) -> str:
    """The candidates as the prompt shows them: numbered, timed, with their text."""
    lines = []
    for candidate in candidates:
        text = candidate.text
        if len(text) > CANDIDATE_TEXT_CHARS:
            text = text[:CANDIDATE_TEXT_CHARS].rsplit(" ", 1)[0] + " …"
        span = f"{_clock(candidate.start)}-{_clock(candidate.end)}, {candidate.end - candidate.start:.0f} s"
        lines.append(f"[{candidate.number}] ({span}) {text}")
    return "\n".join(lines)


def ranking_problem(answer: HighlightRanking, candidates: int) -> str | None:
    """What is wrong with the model's choice in words it can act on, or None."""
    numbers = [moment.candidate for moment in answer.moments]
    unknown = sorted({n for n in numbers if not 1 <= n <= candidates})
    if unknown:
        listed = ", ".join(map(str, unknown))
        return f"candidate must be one of the numbers 1 to {candidates}; {listed} is not a candidate"
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        return f"each candidate may be chosen once, but {', '.join(map(str, twice))} was chosen twice"
    return None


def rank_with_model(
    model: ModelCalls, candidates: list[Candidate], *, count: int, language: str | None
) -> tuple[list[dict[str, Any]], int]:
    """The moments the model chose, best first, cut at their candidates' sentence boundaries;
    and how many chosen moments were dropped for sharing a sentence with a better one."""
    wanted = min(count, len(candidates))
    prompt = get_prompt(PROMPT_ID).render(
        count=str(wanted),
        total=str(len(candidates)),
        language=transcript_language_name(language),
        candidates=candidates_block(candidates),
    )
    answer = model.ask(
        prompt,
        HighlightRanking,
        purpose="highlights",
        language=language,
        check=lambda ranking: ranking_problem(ranking, len(candidates)),
        max_tokens=120 * wanted + 100,
    )
    by_number = {candidate.number: candidate for candidate in candidates}
    # The model's order breaks ties of its scores; more moments than asked for are not kept.
    ordered = sorted(answer.moments[:wanted], key=lambda moment: -moment.score)
    chosen: list[dict[str, Any]] = []
    taken: list[Candidate] = []
    for moment in ordered:
        candidate = by_number[moment.candidate]
        if any(candidate.shares_sentences(other) for other in taken):
            continue  # candidates may overlap a little; the same sentence in two clips is no use
        taken.append(candidate)
        chosen.append(
            {
                "rank": len(chosen) + 1,
                "start": candidate.start,
                "end": candidate.end,
                "duration": round(candidate.end - candidate.start, 3),
                "score": round(moment.score, 4),
                "title": " ".join(moment.title.split()),
                "reason": " ".join(moment.reason.split()),
                "candidate": candidate.number,
                "local_score": candidate.local_score,
                "local_reason": candidate.local_reason,
            }
        )
    return chosen, len(ordered) - len(chosen)
