"""Is this text written in the language we asked for? A check by script, which catches what
small models do (a Russian script drifting into English or Chinese), not a language identifier."""

from __future__ import annotations

import unicodedata
from collections import Counter

#: The script each language is written in. Languages not listed are not checked.
LANGUAGE_SCRIPTS: dict[str, str] = {
    "ru": "CYRILLIC",
    "uk": "CYRILLIC",
    "be": "CYRILLIC",
    "bg": "CYRILLIC",
    "sr": "CYRILLIC",
    "kk": "CYRILLIC",
    "en": "LATIN",
    "es": "LATIN",
    "de": "LATIN",
    "fr": "LATIN",
    "it": "LATIN",
    "pt": "LATIN",
    "pl": "LATIN",
    "nl": "LATIN",
    "tr": "LATIN",
    "cs": "LATIN",
    "ro": "LATIN",
    "el": "GREEK",
    "ar": "ARABIC",
    "he": "HEBREW",
    "hi": "DEVANAGARI",
    "zh": "CJK",
    "ja": "CJK",
    "ko": "HANGUL",
}
#: Share of letters that must be in the expected script. Names, brands and hashtags in Latin
#: letters are normal in Russian text; whole sentences are not.
MIN_SHARE = 0.75


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA")):
        return "CJK"
    return name.split(" ", 1)[0] or None


def script_shares(text: str) -> dict[str, float]:
    """Share of the letters of `text` in each script (`{"CYRILLIC": 0.93, "LATIN": 0.07}`)."""
    counts = Counter(script for script in map(_script, text) if script)
    total = sum(counts.values())
    return {script: count / total for script, count in counts.most_common()} if total else {}


def language_problem(text: str, language: str | None) -> str | None:
    """Why `text` is not in `language` (by script), or None when it is or cannot be told."""
    if not language:
        return None
    expected = LANGUAGE_SCRIPTS.get(language.split("-", 1)[0].lower())
    shares = script_shares(text)
    if expected is None or not shares:
        return None
    share = shares.get(expected, 0.0)
    if share >= MIN_SHARE:
        return None
    others = ", ".join(
        f"{script.lower()} {value:.0%}" for script, value in shares.items() if script != expected
    )
    return (
        f"the answer must be written in {language} ({expected.lower()} letters), "
        f"but only {share:.0%} of its letters are {expected.lower()} ({others})"
    )
