"""The contract between the gateway and an engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    temperature: float = 0.2
    #: JSON schema the answer must follow (constrained decoding where the engine can), or None.
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    #: Called with the number of answer tokens so far, as they stream in.
    on_tokens: Callable[[int], None] | None = None
    #: Called between streamed tokens; raising (e.g. `Cancelled`) stops the generation.
    check_cancelled: Callable[[], None] | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    #: "stop", "length" (cut at max_tokens), …
    finish_reason: str
    #: Attempts the engine made (remote retries of 429/5xx/timeouts count).
    attempts: int = 1


class Engine(Protocol):
    #: "local" or "openai".
    name: str

    @property
    def model(self) -> str:
        """What answers: a model name and, for embedded models, a digest prefix. Part of every
        cache key, so answers of different models never mix."""
        ...

    def complete(self, request: ChatRequest) -> Completion:
        """One answer. Raises LLMUnavailable (transient) or LLMRefused (permanent)."""
        ...
