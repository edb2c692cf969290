"""translate: the transcript's subtitles in other languages, cue by cue, each cue's timing kept.

The cues are the ones `subtitles` makes (same line length, lines and seconds), so a translated
file lines up with the original one. Each cue gets a length budget: what can be read in its
time at `chars_per_second`, never less than the original's own length. Engines:

- `llm` (default): the LLM gateway (the embedded model, or any OpenAI-compatible one), a batch
  of cues at a time with what is said before and after as context. An answer is re-asked when
  a cue is missing, empty, left untranslated, far over its budget or without a glossary term;
  the gateway re-asks one in another script. The last answer allowed is taken even when some
  cues are still long (counted as `over_budget`): a long subtitle is better than none.
- `apertium`: Debian's rule-based pairs (`apertium-en-es`), where installed: fast, literal.

A target that is the transcript's own language is the original cues, copied. Every engine
applies the glossary of the language pair: the user's glossaries (`/v1/glossaries`, put into
the plan when a run is created, so a changed glossary is a new `config_hash`) and any given in
the run's parameters (`{"en>ru": {"term": "translation"}}`; these win).

Writes, per language: `translations/<lang>/subtitles.srt` and `.vtt`, `cues.json` (each cue's
times, source text, translation and budget: what `dub` speaks), and with `dual` the two
languages in one file (`subtitles.dual.srt`/`.vtt`, the translation above the original).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.llm.errors import LLMInvalidAnswer
from kadr.llm.language import LANGUAGE_NAMES, LANGUAGE_SCRIPTS, language_name, latin_word_share
from kadr.llm.prompts import PromptTemplate, get_prompt
from kadr.media.apertium import ApertiumError, apertium_pairs, translate_lines
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact, edited_texts
from kadr.pipeline.components.subtitles import cues_from, wrap_text, write_subtitles
from kadr.pipeline.model_calls import ModelCalls, signature_param

ENGINES = ("llm", "apertium")
MAX_BATCH_LINES = 16
#: A cue may run this far over its budget before the model is asked to shorten it.
BUDGET_SLACK = 1.2
#: Context around a batch: this many sentences before and after it, as the speaker said them.
CONTEXT_LINES = 2
#: A cue this short may stay as it is ("OK", a name); a longer one equal to its source was
#: not translated.
UNTRANSLATED_MIN_CHARS = 12
#: In a language not written in Latin letters, a subtitle with more of its words in them than
#: this is half-translated (names and brands are a word or two).
MAX_LATIN_WORD_SHARE = 0.3
#: Words two subtitles share (of all they use) beyond which one repeats the other.
REPEAT_SHARE = 0.6
#: A sentence spoken over more cues than this is translated in pieces of this many cues.
MAX_LINE_CUES = 3
SENTENCE_ENDS = (".", "!", "?", "…", '."', '!"', '?"', ".»", "!»", "?»")
#: The glossary of a pair in the plan: "<source>><target>" → {term: translation}.
Glossary = dict[str, str]


class TranslatedCue(BaseModel):
    n: int = Field(ge=1, description="The subtitle's number, as given")
    text: str = Field(min_length=1, max_length=400)


class TranslatedCues(BaseModel):
    """The model's answer for one batch."""

    cues: list[TranslatedCue] = Field(min_length=1, max_length=MAX_BATCH_LINES)


@dataclass
class Cue:
    n: int
    start: float
    end: float
    source: str
    budget: int
    text: str = ""


@dataclass
class Line:
    """What is translated as one: a sentence, over the consecutive cues it is spoken in."""

    n: int
    cues: list[Cue]

    @property
    def source(self) -> str:
        return " ".join(cue.source for cue in self.cues)

    @property
    def budget(self) -> int:
        return sum(cue.budget for cue in self.cues)


def sentence_lines(cues: list[Cue]) -> list[Line]:
    """Cues grouped into sentences (at most MAX_LINE_CUES cues each): a cue that is half a
    sentence ("so open with your most" + "surprising idea.") is translated with the rest of
    it, since word order changes between languages, then shared out again (`share_out`)."""
    lines: list[Line] = []
    current: list[Cue] = []
    for cue in cues:
        current.append(cue)
        if cue.source.endswith(SENTENCE_ENDS) or len(current) == MAX_LINE_CUES:
            lines.append(Line(len(lines) + 1, current))
            current = []
    if current:
        lines.append(Line(len(lines) + 1, current))
    return lines


def share_out(line: Line, translation: str) -> list[Cue]:
    """The translation of `line` over its cues, in words, each cue getting the share of the
    text its original had. A cue left without a word is joined to the one before (its end
    moves), so the text is never empty on screen and never split mid-word."""
    words = translation.split()
    if len(line.cues) == 1:
        return [replace(line.cues[0], text=" ".join(words))]
    lengths = [len(cue.source) + 1 for cue in line.cues]
    total_source, total_text = sum(lengths), sum(len(w) + 1 for w in words)
    bounds = [sum(lengths[: i + 1]) / total_source * total_text for i in range(len(lengths))]
    chunks: list[list[str]] = [[] for _ in line.cues]
    position = 0.0
    for word in words:
        middle = position + (len(word) + 1) / 2
        chunks[
            min(next(i for i, bound in enumerate(bounds) if middle <= bound + 1e-9), len(chunks) - 1)
        ].append(word)
        position += len(word) + 1
    shared: list[Cue] = []
    for cue, chunk in zip(line.cues, chunks, strict=True):
        if chunk or not shared:
            shared.append(replace(cue, text=" ".join(chunk)))
        else:
            shared[-1] = replace(shared[-1], end=cue.end, source=f"{shared[-1].source} {cue.source}")
    if not shared[0].text and len(shared) > 1:  # the first cue got nothing: the second starts earlier
        shared[1] = replace(shared[1], start=shared[0].start, source=f"{shared[0].source} {shared[1].source}")
        shared.pop(0)
    return shared


def llm_languages() -> list[str]:
    """What the `llm` engine translates into: the languages its prompts can name."""
    return sorted(LANGUAGE_NAMES)


def pair_key(source: str, target: str) -> str:
    return f"{source}>{target}"


def source_cues(transcript: dict[str, Any], params: Mapping[str, Any]) -> list[Cue]:
    """The cues `subtitles` would write, on one line each, with their reading budgets."""
    cues = []
    for index, (start, end, text) in enumerate(
        cues_from(
            transcript,
            int(params["max_line_chars"]),
            int(params["max_lines"]),
            float(params["max_cue_seconds"]),
        )
    ):
        source = " ".join(text.replace("\\N", " ").split())
        budget = max(len(source), math.ceil(float(params["chars_per_second"]) * (end - start)))
        cues.append(Cue(index + 1, start, end, source, budget))
    return cues


def term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


def uses_translation(text: str, translation: str) -> bool:
    """Does `text` use the glossary's `translation`? Any case; each word may be inflected
    (Russian endings change with the sentence), so a word matches on its stem: all but its
    last two letters, at least four."""
    words = re.findall(r"\w+", text.casefold())
    for index in range(len(words)):
        wanted = re.findall(r"\w+", translation.casefold())
        if wanted and all(
            index + offset < len(words) and _same_stem(words[index + offset], word)
            for offset, word in enumerate(wanted)
        ):
            return True
    return False


def _same_stem(word: str, wanted: str) -> bool:
    stem = wanted if len(wanted) <= 4 else wanted[: max(4, len(wanted) - 2)]
    return word.startswith(stem)


def glossary_problems(cue: Cue | Line, text: str, glossary: Glossary) -> list[str]:
    return [
        f"subtitle {cue.n} must translate {term!r} as {translation!r}"
        for term, translation in glossary.items()
        if term_pattern(term).search(cue.source) and not uses_translation(text, translation)
    ]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def repeats(text: str, earlier: str) -> bool:
    """Does `text` say what `earlier` said (most of its words again)? A small model sometimes
    translates the context it was shown instead of the sentence it was asked for."""
    mine, theirs = _words(text), _words(earlier)
    return len(mine) >= 4 and len(mine & theirs) / len(mine | theirs) > REPEAT_SHARE


def batch_check(
    batch: list[Line],
    glossary: Glossary,
    last_answer: int,
    target: str = "",
    earlier: tuple[str, ...] = (),
) -> Callable[[TranslatedCues], str | None]:
    """The gateway's `check=` for one batch. Missing, extra, empty ("…") or untranslated lines
    and glossary terms are asked again every time; a line over its budget only until the last
    answer."""
    answers = 0
    wanted = {cue.n: cue for cue in batch}

    def check(answer: TranslatedCues) -> str | None:
        nonlocal answers
        answers += 1
        given = {cue.n: cue.text.strip() for cue in answer.cues}
        problems = []
        missing = [str(n) for n in wanted if not given.get(n)]
        if missing:
            problems.append(f"subtitles {', '.join(missing)} are missing or empty")
        extra = [str(n) for n in given if n not in wanted]
        if extra:
            problems.append(
                f"there are no subtitles {', '.join(extra)}: answer only {min(wanted)}-{max(wanted)}"
            )
        for n, text in given.items():
            cue = wanted.get(n)
            if cue is None or not text:
                continue
            if not re.search(r"[^\W\d_]", text):
                problems.append(f"subtitle {n} has no words: translate it")
                continue
            if text.casefold() == cue.source.casefold() and len(text) >= UNTRANSLATED_MIN_CHARS:
                problems.append(f"subtitle {n} is not translated")
            if (
                LANGUAGE_SCRIPTS.get(target, "LATIN") != "LATIN"
                and latin_word_share(text) > MAX_LATIN_WORD_SHARE
            ):
                problems.append(
                    f"subtitle {n} is partly in Latin letters: write all of it in {language_name(target)}"
                )
            said = [
                other for other in (*earlier, *(given[m] for m in given if m < n)) if repeats(text, other)
            ]
            if said and not any(repeats(cue.source, other.source) for other in batch if other.n < n):
                problems.append(
                    f"subtitle {n} repeats an earlier subtitle; translate what it says: {cue.source}"
                )
            problems += glossary_problems(cue, text, glossary)
            if answers < last_answer and len(text) > cue.budget * BUDGET_SLACK:
                problems.append(f"subtitle {n} has {len(text)} characters; its limit is {cue.budget}")
        return "; ".join(problems) or None

    return check


class Translate(Component):
    name = "translate"
    version = "1"
    requires = ("transcribe",)
    defaults: ClassVar[dict[str, Any]] = {
        #: Target languages (ISO 639-1 codes).
        "languages": [],
        "engine": "llm",
        #: Also write both languages in one file.
        "dual": False,
        #: Cue shape: the same as `subtitles`, so the files line up.
        "max_line_chars": 42,
        "max_lines": 2,
        "max_cue_seconds": 7.0,
        #: Reading speed that sets each cue's length budget.
        "chars_per_second": 17,
        #: Sentences in one request to the model.
        "batch_lines": 6,
        #: Terms of a language pair, beside the user's glossaries: {"en>ru": {"term": "термин"}}.
        "glossary": {},
    }
    weight = 2.0

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        languages = params["languages"]
        if isinstance(languages, str):
            languages = [languages]
        if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
            raise ValueError('translate: languages must name at least one language, e.g. ["ru", "en"]')
        params["languages"] = list(dict.fromkeys(code.strip().lower() for code in languages))
        engine = params["engine"]
        if engine not in ENGINES:
            raise ValueError(f"translate: engine must be one of {', '.join(ENGINES)}")
        can = (
            llm_languages()
            if engine == "llm"
            else sorted({code for pair in apertium_pairs() for code in pair})
        )
        if engine == "apertium" and not can:
            raise ValueError(
                "translate: Apertium is not installed here (apt-get install apertium apertium-en-es), "
                f"use engine llm (languages: {', '.join(llm_languages())})"
            )
        refused = [code for code in params["languages"] if code not in can]
        if refused:
            raise ValueError(
                f"translate: the {engine} engine cannot translate into {', '.join(refused)}; "
                f"it can translate into: {', '.join(can)}"
            )
        if not 1 <= int(params["batch_lines"]) <= MAX_BATCH_LINES:
            raise ValueError(f"translate: batch_lines must be between 1 and {MAX_BATCH_LINES}")
        if float(params["chars_per_second"]) <= 0:
            raise ValueError("translate: chars_per_second must be positive")
        params["glossary"] = _checked_glossary(params["glossary"])
        if engine == "llm":
            params["llm"] = signature_param("translate", settings)
        return params

    reviewable = ("translations/*/cues.json",)

    @classmethod
    def review_edit(
        cls, name: str, edited: Any, original: Any, params: dict[str, Any], folder: Path
    ) -> list[ProducedArtifact]:
        texts = edited_texts(edited, original, "cues")
        cues = [
            replace(Cue(**{k: cue[k] for k in Cue.__dataclass_fields__}), text=text)
            for cue, text in zip(original["cues"], texts, strict=True)
        ]
        engine = f"{original['engine']}+review"
        return write_translation(
            folder, cues, original["source_language"], original["language"], engine, params
        )

    def run(self, ctx: ComponentContext) -> ComponentResult:
        transcript = ctx.read_json("transcript.json")
        cues = source_cues(transcript, ctx.params)
        if not cues:
            return ComponentResult(skipped_reason="the transcript is empty: there is nothing to translate")
        source = str(transcript.get("language") or "")
        if not source:
            raise PermanentJobError("translate: the transcript does not say its language")
        model = ModelCalls(ctx, self.name)
        artifacts: list[ProducedArtifact] = []
        over_budget: dict[str, int] = {}
        languages: list[str] = ctx.params["languages"]
        lines = sentence_lines(cues)
        for index, target in enumerate(languages):
            done = (index / len(languages), (index + 1) / len(languages))
            glossary = dict(ctx.params["glossary"].get(pair_key(source, target), {}))
            if target == source:
                translated = [replace(cue, text=cue.source) for cue in cues]
            elif ctx.params["engine"] == "apertium":
                translated = self._apertium(lines, source, target, glossary)
            else:
                translated = self._llm(ctx, model, lines, source, target, glossary, done)
            translated = [replace(cue, n=number) for number, cue in enumerate(translated, start=1)]
            over_budget[target] = sum(len(cue.text) > cue.budget * BUDGET_SLACK for cue in translated)
            artifacts += write_translation(
                ctx.workdir,
                translated,
                source,
                target,
                "copy" if target == source else ctx.params["engine"],
                ctx.params,
            )
            ctx.progress(done[1], f"{target}: {len(translated)} subtitles")
        return ComponentResult(
            artifacts,
            {
                "source_language": source,
                "languages": languages,
                "engine": ctx.params["engine"],
                "cues": len(cues),
                "sentences": len(lines),
                "over_budget": over_budget,
                **(model.summary() if ctx.params["engine"] == "llm" else {}),
            },
            llm_calls=model.calls,
        )

    def _apertium(self, lines: list[Line], source: str, target: str, glossary: Glossary) -> list[Cue]:
        try:
            texts = translate_lines([line.source for line in lines], source, target, glossary)
        except ApertiumError as error:
            raise PermanentJobError(f"translate: {error}") from error
        return [
            cue
            for line, text in zip(lines, texts, strict=True)
            for cue in share_out(line, text or line.source)
        ]

    def _llm(
        self,
        ctx: ComponentContext,
        model: ModelCalls,
        lines: list[Line],
        source: str,
        target: str,
        glossary: Glossary,
        done: tuple[float, float],
    ) -> list[Cue]:
        size = int(ctx.params["batch_lines"])
        batches = [lines[i : i + size] for i in range(0, len(lines), size)]
        template = get_prompt("translate.cues")
        translated: list[Cue] = []
        for number, batch in enumerate(batches):
            ctx.progress(
                done[0] + (done[1] - done[0]) * number / len(batches),
                f"{target}: sentences {batch[0].n}-{batch[-1].n} of {len(lines)}",
            )
            translated += self._ask(ctx, model, template, lines, batch, source, target, glossary, translated)
        return translated

    def _ask(
        self,
        ctx: ComponentContext,
        model: ModelCalls,
        template: PromptTemplate,
        lines: list[Line],
        batch: list[Line],
        source: str,
        target: str,
        glossary: Glossary,
        translated: list[Cue],
    ) -> list[Cue]:
        """One batch of sentences translated and shared out over their cues. A batch the model
        cannot answer is asked again in halves, down to single sentences: a small model that
        stumbles on one sentence of six need not fail the other five."""
        first = batch[0].n - 1
        before = lines[max(0, first - CONTEXT_LINES) : first]
        after = lines[first + len(batch) : first + len(batch) + CONTEXT_LINES]
        used = {
            term: translation
            for term, translation in glossary.items()
            if any(term_pattern(term).search(line.source) for line in batch)
        }
        prompt = template.render(
            source=language_name(source),
            target=language_name(target),
            before="\n".join(line.source for line in before) or "(the video starts here)",
            after="\n".join(line.source for line in after) or "(the video ends here)",
            cues="\n".join(f"[{line.n}] (at most {line.budget} characters) {line.source}" for line in batch),
            glossary=(
                "Glossary (always translate these terms so):\n"
                + "\n".join(f"- {term} → {translation}" for term, translation in used.items())
                + "\n"
            )
            if used
            else "",
            first=str(batch[0].n),
            last=str(batch[-1].n),
        )
        try:
            answer = model.ask(
                prompt,
                TranslatedCues,
                purpose="translate",
                language=target,
                check=batch_check(
                    batch,
                    used,
                    last_answer=ctx.settings.llm_repair_attempts + 1,
                    target=target,
                    earlier=tuple(cue.text for cue in translated[-2 * CONTEXT_LINES :]),
                ),
                max_tokens=120 + sum(line.budget for line in batch) * 2,
            )
        except PermanentJobError as error:
            if len(batch) == 1 or not isinstance(error.__cause__, LLMInvalidAnswer):
                raise
            half = len(batch) // 2
            head = self._ask(ctx, model, template, lines, batch[:half], source, target, glossary, translated)
            tail = self._ask(
                ctx, model, template, lines, batch[half:], source, target, glossary, [*translated, *head]
            )
            return [*head, *tail]
        given = {cue.n: " ".join(cue.text.split()) for cue in answer.cues}
        return [cue for line in batch for cue in share_out(line, given[line.n])]


def write_translation(
    folder: Path, cues: list[Cue], source: str, target: str, engine: str, params: Mapping[str, Any]
) -> list[ProducedArtifact]:
    """translations/<target>/: the cues as SRT and VTT, cues.json (what dub speaks and a person
    may edit in review), and with `dual` both languages in one file, under `folder`."""
    name = f"translations/{target}"
    (folder / name).mkdir(parents=True, exist_ok=True)
    line = int(params["max_line_chars"])
    srt, vtt = folder / f"{name}/subtitles.srt", folder / f"{name}/subtitles.vtt"
    write_subtitles(((c.start, c.end, wrap_text(c.text, line)) for c in cues), srt, vtt)
    document = folder / f"{name}/cues.json"
    cues_json = [asdict(cue) for cue in cues]
    document.write_text(
        json.dumps(
            {"language": target, "source_language": source, "engine": engine, "cues": cues_json},
            indent=1,
            ensure_ascii=False,
        )
    )
    produced = [
        ProducedArtifact(f"{name}/subtitles.srt", srt, "subtitles", "application/x-subrip"),
        ProducedArtifact(f"{name}/subtitles.vtt", vtt, "subtitles", "text/vtt"),
        ProducedArtifact(f"{name}/cues.json", document, "json", "application/json"),
    ]
    if params["dual"] and target != source:
        srt, vtt = folder / f"{name}/subtitles.dual.srt", folder / f"{name}/subtitles.dual.vtt"
        write_subtitles(
            ((c.start, c.end, wrap_text(c.text, line) + "\\N" + wrap_text(c.source, line)) for c in cues),
            srt,
            vtt,
        )
        produced += [
            ProducedArtifact(f"{name}/subtitles.dual.srt", srt, "subtitles", "application/x-subrip"),
            ProducedArtifact(f"{name}/subtitles.dual.vtt", vtt, "subtitles", "text/vtt"),
        ]
    return produced


def _checked_glossary(value: Any) -> dict[str, Glossary]:
    """{"en>ru": {"term": "translation"}} with every key and value a non-empty string."""
    if not isinstance(value, Mapping):
        raise ValueError('translate: glossary must look like {"en>ru": {"term": "translation"}}')
    checked: dict[str, Glossary] = {}
    for pair, terms in value.items():
        source, _, target = str(pair).partition(">")
        if not source or not target or not isinstance(terms, Mapping):
            raise ValueError(f'translate: glossary key {pair!r} must be "<source>><target>", e.g. "en>ru"')
        clean = {
            str(t).strip(): str(tr).strip() for t, tr in terms.items() if str(t).strip() and str(tr).strip()
        }
        checked[pair_key(source.strip().lower(), target.strip().lower())] = clean
    return checked
