"""A user's profile fields: locale (BCP 47), time zone (IANA) and default language (ISO 639-1).

Each check normalises what a person typed to the one stored spelling, or raises a 422 naming
the field. No language database is installed, so a locale is checked for being well formed
(RFC 5646 syntax) and for a primary language that ISO 639-1 knows when it has two letters;
time zones are the names the installed tz database (`tzdata`) knows.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from functools import cache
from typing import Any

from kadr.core.errors import ValidationFailed

#: What `language_of` answers for a user who chose neither a language nor a locale.
FALLBACK_LANGUAGE = "en"
#: Editable through `PATCH /v1/me` (and optional at registration).
PROFILE_FIELDS = ("display_name", "locale", "timezone", "default_language")
#: RFC 5646 §4.4.1: 35 characters hold any tag that is not private use.
LOCALE_MAX_LENGTH = 35
TIMEZONE_MAX_LENGTH = 64
DISPLAY_NAME_MAX_LENGTH = 120

#: ISO 639-1 (the two-letter codes), as of 2024; `iw`, `in`, `ji` and `sh` are withdrawn.
ISO_639_1: frozenset[str] = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky
    la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny
    oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
    st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo
    za zh zu
    """.split()  # noqa: SIM905 (183 quoted items, one per line, would hide the table)
)

# RFC 5646 `langtag` (lower-cased before matching): language (2-3 letters, up to three
# extlangs), script, region, variants, extensions, private use. Grandfathered tags are refused.
_LANGTAG = re.compile(
    r"""
    (?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})
    (?:-[a-z]{4})?
    (?:-(?:[a-z]{2}|[0-9]{3}))?
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*
    (?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*
    (?:-x(?:-[a-z0-9]{1,8})+)?
    """,
    re.VERBOSE,
)


def _canonical_case(tag: str) -> str:
    """RFC 5646 §2.1.1 case: `ru-RU`, `zh-Hant-TW`, `sr-Latn-RS`; everything after a singleton
    (an extension or private use) and every other subtag lower case."""
    parts = tag.split("-")
    out = [parts[0]]
    after_singleton = False
    for part in parts[1:]:
        if len(part) == 1:
            after_singleton = True
        if not after_singleton and len(part) == 2 and part.isalpha():
            part = part.upper()
        elif not after_singleton and len(part) == 4 and part.isalpha():
            part = part.title()
        out.append(part)
    return "-".join(out)


def normalise_locale(value: str) -> str:
    """A well-formed BCP 47 tag in its canonical case (`RU-ru` -> `ru-RU`), or 422 `locale`."""
    tag = value.strip()
    if "_" in tag:
        hint = tag.replace("_", "-")
        raise ValidationFailed(
            f"{value!r} is not a BCP 47 locale: subtags are joined by '-' (like {hint!r})", field="locale"
        )
    match = _LANGTAG.fullmatch(tag.lower())
    if match is None or len(tag) > LOCALE_MAX_LENGTH:
        raise ValidationFailed(
            f"{value!r} is not a BCP 47 locale (like 'ru-RU', 'en', 'zh-Hant-TW')", field="locale"
        )
    primary = match.group("language").split("-")[0]
    if len(primary) == 2 and primary not in ISO_639_1:
        raise ValidationFailed(f"{value!r}: {primary!r} is not an ISO 639-1 language", field="locale")
    return _canonical_case(tag.lower())


def normalise_language(value: str) -> str:
    """A two-letter ISO 639-1 code, lower case (`RU` -> `ru`), or 422 `default_language`."""
    code = value.strip().lower()
    if code not in ISO_639_1:
        raise ValidationFailed(
            f"{value!r} is not an ISO 639-1 language code (two letters, like 'en' or 'ru')",
            field="default_language",
        )
    return code


@cache
def _zones_by_folded_name() -> dict[str, str]:
    """Every IANA zone name the tz database holds, by its lower-case form (read once: a scan)."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def normalise_timezone(value: str) -> str:
    """An IANA time zone name as the tz database spells it (`europe/moscow` -> `Europe/Moscow`),
    or 422 `timezone`. Only names the database lists: never a path `ZoneInfo` would open."""
    name = _zones_by_folded_name().get(value.strip().lower())
    if name is None:
        raise ValidationFailed(
            f"{value!r} is not an IANA time zone (like 'Europe/Moscow', 'America/New_York' or 'UTC')",
            field="timezone",
        )
    return name


def validated_profile(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The given profile fields, normalised; None clears a field (an empty display name).

    Raises ValidationFailed naming the first field that is wrong.
    """
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in PROFILE_FIELDS:
            raise ValidationFailed(f"{field!r} is not a profile field", field=field)
        if field == "display_name":
            values[field] = (value or "").strip()[:DISPLAY_NAME_MAX_LENGTH]
        elif value is None or not str(value).strip():
            values[field] = None
        else:
            values[field] = _NORMALISERS[field](str(value))
    return values


_NORMALISERS = {
    "locale": normalise_locale,
    "timezone": normalise_timezone,
    "default_language": normalise_language,
}


def language_from(default_language: str | None, locale: str | None) -> str:
    """The language to write in for someone: their chosen one, else their locale's (when it is
    an ISO 639-1 code), else FALLBACK_LANGUAGE."""
    if default_language:
        return default_language
    primary = (locale or "").split("-")[0]
    return primary if primary in ISO_639_1 else FALLBACK_LANGUAGE
