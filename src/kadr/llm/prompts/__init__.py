"""Versioned prompt templates, one TOML file per prompt (`<prompt_id>.toml`).

A template has an `id`, an integer `version` (bump it whenever the wording changes: the
version and the rendered text's hash are recorded with every call and are part of every cache
key), a `system` and a `user` text with `$placeholders` (`string.Template`, so JSON braces in a
prompt need no escaping).
"""

from __future__ import annotations

import hashlib
import json
import string
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt with its values filled in: what is sent, and how it is identified."""

    prompt_id: str
    prompt_version: int
    messages: tuple[dict[str, str], ...]

    @property
    def prompt_hash(self) -> str:
        text = json.dumps([self.prompt_id, self.prompt_version, self.messages], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_feedback(self, answer: str, problem: str) -> RenderedPrompt:
        """The same conversation, plus the rejected answer and what was wrong with it (a re-ask)."""
        feedback = f"Your answer was rejected: {problem}. Answer again, completely, fixing exactly that."
        return RenderedPrompt(
            self.prompt_id,
            self.prompt_version,
            (*self.messages, {"role": "assistant", "content": answer}, {"role": "user", "content": feedback}),
        )


@dataclass(frozen=True)
class PromptTemplate:
    prompt_id: str
    version: int
    system: str
    user: str

    def placeholders(self) -> set[str]:
        """The `$names` the template needs; ValueError for a `$` that is no placeholder."""
        names: set[str] = set()
        for text in (self.system, self.user):
            template = string.Template(text)
            if not template.is_valid():
                raise ValueError(f"prompt {self.prompt_id} has a `$` that is not a placeholder (write $$)")
            names.update(template.get_identifiers())
        return names

    def render(self, **values: Any) -> RenderedPrompt:
        """Fill the placeholders; a missing value is a KeyError (a bug, not a user error)."""
        text = {
            key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for key, value in values.items()
        }
        return RenderedPrompt(
            self.prompt_id,
            self.version,
            (
                {"role": "system", "content": string.Template(self.system).substitute(text).strip()},
                {"role": "user", "content": string.Template(self.user).substitute(text).strip()},
            ),
        )


@cache
def get_prompt(prompt_id: str) -> PromptTemplate:
    """The template `prompt_id` shipped in this package."""
    source = resources.files(__package__).joinpath(f"{prompt_id}.toml")
    if not source.is_file():
        raise KeyError(f"no prompt template {prompt_id!r}")
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    if data.get("id") != prompt_id:
        raise ValueError(f"prompt file {prompt_id}.toml declares id {data.get('id')!r}")
    if not isinstance(data.get("version"), int) or data["version"] < 1:
        raise ValueError(f"prompt file {prompt_id}.toml needs an integer version >= 1")
    for part in ("system", "user"):
        if not isinstance(data.get(part), str) or not data[part].strip():
            raise ValueError(f"prompt file {prompt_id}.toml needs a non-empty {part!r} text")
    template = PromptTemplate(prompt_id, data["version"], data["system"], data["user"])
    template.placeholders()  # a stray `$` fails here, when the file is read, not mid-job
    return template


def available_prompts() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".toml")
    )
