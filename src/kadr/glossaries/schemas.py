"""Glossaries over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from kadr.core.schemas import Schema

MAX_TERMS = 500
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: An ISO 639-1 code (two letters), as transcripts and `translate.languages` name languages.
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class Term(Schema):
    term: Text = Field(description="As it is said in the source language (matched as whole words, any case)")
    translation: Text = Field(description="How every engine must say it in the target language")


class GlossaryIn(Schema):
    terms: list[Term] = Field(max_length=MAX_TERMS)

    @field_validator("terms")
    @classmethod
    def _each_term_once(cls, terms: list[Term]) -> list[Term]:
        seen: set[str] = set()
        for item in terms:
            if item.term.casefold() in seen:
                raise ValueError(f"the term {item.term!r} is given twice")
            seen.add(item.term.casefold())
        return terms


class GlossarySummary(Schema):
    source_language: str
    target_language: str
    term_count: int
    updated_at: datetime


class GlossaryOut(GlossarySummary):
    terms: list[Term]
