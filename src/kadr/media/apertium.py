"""Apertium, the rule-based translator Debian packages (`apertium` and a pair such as
`apertium-en-es`): fast, offline, and only as good as its dictionaries.

Pairs are named by ISO 639-3 codes (`eng-spa`); kadr speaks ISO 639-1 (`en`, `es`), so both
are mapped here. Text goes in one line per cue and comes back one line per cue: Apertium keeps
line breaks. Words it must not translate (a glossary's terms) travel as placeholders it passes
through untouched, and are put back afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache

from kadr.media.ffmpeg import child_setup

#: ISO 639-3 (Apertium's pair names) to ISO 639-1 (kadr's language codes).
ISO_639_1 = {
    "eng": "en",
    "spa": "es",
    "cat": "ca",
    "fra": "fr",
    "por": "pt",
    "ita": "it",
    "deu": "de",
    "rus": "ru",
    "ukr": "uk",
    "bel": "be",
    "pol": "pl",
    "ron": "ro",
    "glg": "gl",
    "oci": "oc",
    "eus": "eu",
    "nld": "nl",
    "swe": "sv",
    "dan": "da",
    "nob": "nb",
    "nno": "nn",
}
TIMEOUT_SECONDS = 600
_PLACEHOLDER = "Zqx{}qZ"
_PLACEHOLDER_BACK = re.compile(r"Zqx(\d+)qZ")


class ApertiumError(RuntimeError):
    """Apertium is missing, has no such pair, or failed; the message says which."""


@cache
def apertium_pairs() -> dict[tuple[str, str], str]:
    """(source, target) in ISO 639-1 → the Apertium mode that translates it; empty when
    Apertium is not installed. Variants (`spa-eng_US`) are left out: the base pair serves."""
    binary = shutil.which("apertium")
    if binary is None:
        return {}
    try:
        listed = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    pairs: dict[tuple[str, str], str] = {}
    for mode in listed.stdout.split():
        source, _, target = mode.partition("-")
        if not target or "_" in target or "-" in target:
            continue
        pair = (ISO_639_1.get(source, source), ISO_639_1.get(target, target))
        pairs.setdefault(pair, mode)
    return pairs


def apertium_targets() -> set[str]:
    """The languages some installed pair translates into."""
    return {target for _source, target in apertium_pairs()}


def translate_lines(
    lines: Sequence[str], source: str, target: str, glossary: Mapping[str, str] | None = None
) -> list[str]:
    """Each line translated from `source` to `target`, in order; `glossary` terms (matched as
    whole words, any case) become their given translation."""
    mode = apertium_pairs().get((source, target))
    if mode is None:
        known = ", ".join(f"{s}→{t}" for s, t in sorted(apertium_pairs())) or "none installed"
        raise ApertiumError(f"Apertium has no {source}→{target} pair (installed: {known})")
    terms = sorted((glossary or {}).items(), key=lambda item: -len(item[0]))
    kept: list[str] = []

    def protect(line: str) -> str:
        for term, translation in terms:
            pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)

            def placeholder(_match: re.Match[str], translation: str = translation) -> str:
                kept.append(translation)
                return _PLACEHOLDER.format(len(kept) - 1)

            line = pattern.sub(placeholder, line)
        return line

    text = "\n".join(protect(" ".join(line.split())) for line in lines) + "\n"
    try:
        done = subprocess.run(
            ["apertium", "-u", mode],  # -u: no `*` marks on unknown words
            input=text,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            start_new_session=True,
            preexec_fn=child_setup(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ApertiumError(f"Apertium {mode} did not run: {error}") from error
    if done.returncode != 0:
        raise ApertiumError(f"Apertium {mode} failed: {done.stderr.strip()[-500:]}")
    translated = done.stdout.rstrip("\n").split("\n")
    if len(translated) != len(lines):
        raise ApertiumError(f"Apertium {mode} gave {len(translated)} lines for {len(lines)}")
    return [_PLACEHOLDER_BACK.sub(lambda m: kept[int(m.group(1))], line).strip() for line in translated]
