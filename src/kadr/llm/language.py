"""Is this text written in the language we asked for? A check by script, which catches what
small models do (a Russian script drifting into English or Chinese), not a language identifier:
an answer with no letter of the expected script, letters of a third script, or (in a non-Latin
language) a whole sentence in Latin letters is re-asked; brand names in Latin letters pass."""

from __future__ import annotations

import re
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
#: What prompts call each language: a small model follows "Russian" better than "ru".
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "ru": "Russian",
    "uk": "Ukrainian",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "tr": "Turkish",
    "kk": "Kazakh",
    "zh": "Chinese",
    "ja": "Japanese",
}

#: Letters of another script than the expected one (and than Latin) beyond this share: a drift
#: (a Russian answer slipping into Chinese), never normal.
MAX_FOREIGN_SHARE = 0.05
#: Latin words in a row inside a non-Latin text that make a sentence, not a name. Names,
#: brands and hashtags in Latin letters are normal in Russian text ("iPhone 15 Pro Max",
#: "DaVinci Resolve"); whole English sentences are not.
MAX_LATIN_RUN = 4
#: A text this long (in letters) must also be mostly in its script: many short English phrases
#: between a few Russian words are an English answer.
LONG_TEXT_LETTERS = 60
MIN_SHARE = 0.5

_WORD = re.compile(r"[^\W\d_]+")
_PHRASE_BREAK = re.compile(r"[\n.,;:!?()\[\]{}\"«»“”|/•…]+")


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


def _longest_latin_run(text: str) -> str:
    """The longest stretch of words in Latin letters within one phrase (a list of names,
    "Apple Watch, Pixel Fold", is several phrases; digits do not break a phrase)."""
    longest: list[str] = []
    for phrase in _PHRASE_BREAK.split(text):
        run: list[str] = []
        for word in _WORD.findall(phrase):
            scripts = Counter(script for script in map(_script, word) if script)
            if scripts.most_common(1)[0][0] == "LATIN":
                run.append(word)
                if len(run) > len(longest):
                    longest = list(run)
            else:
                run = []
    return " ".join(longest)


def latin_word_share(text: str) -> float:
    """The share of the words of `text` written in Latin letters (0 when it has no words)."""
    words = _WORD.findall(text)
    latin = [w for w in words if Counter(map(_script, w)).most_common(1)[0][0] == "LATIN"]
    return len(latin) / len(words) if words else 0.0


def language_problem(text: str, language: str | None) -> str | None:
    """Why `text` is not in `language` (by script), or None when it is or cannot be told."""
    if not language:
        return None
    expected = LANGUAGE_SCRIPTS.get(language.split("-", 1)[0].lower())
    shares = script_shares(text)
    if expected is None or not shares:
        return None
    wanted = f"the answer must be written in {language} ({expected.lower()} letters)"
    described = ", ".join(f"{script.lower()} {value:.0%}" for script, value in shares.items())
    share = shares.get(expected, 0.0)
    if share == 0.0:
        return f"{wanted}, but it has none ({described})"
    for script, value in shares.items():
        if script not in (expected, "LATIN") and value > MAX_FOREIGN_SHARE:
            return f"{wanted}, but {value:.0%} of its letters are {script.lower()} ({described})"
    if expected == "LATIN":
        return None
    run = _longest_latin_run(text)
    if len(run.split()) > MAX_LATIN_RUN:
        return f'{wanted}, but it has a passage in latin letters: "{run[:80]}"'
    letters = sum(1 for char in text if _script(char))
    if letters >= LONG_TEXT_LETTERS and share < MIN_SHARE:
        return f"{wanted}, but only {share:.0%} of its letters are {expected.lower()} ({described})"
    return None


def language_name(language: str) -> str:
    """The English name of a language code for a prompt ("ru-RU" → "Russian"); unknown codes as given."""
    return LANGUAGE_NAMES.get(language.split("-", 1)[0].lower(), language)


def transcript_language_name(language: str | None) -> str:
    """How a prompt about a transcript names its language: by name, or by reference when unknown."""
    return language_name(language) if language else "the transcript's own language"
