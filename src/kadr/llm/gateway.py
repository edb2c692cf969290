"""The LLM gateway: every model call of kadr goes through `LLMGateway`.

It renders nothing itself (templates live in `llm/prompts`); it sends a rendered prompt to the
configured engine, validates the answer (a Pydantic model for structured output, the script of
the requested language for both), re-asks a bounded number of times with what was wrong, and
reports what the call cost in an `LLMCall`. It never touches the database: callers record the
calls (`llm.service`), so pipeline components can use it too.

The gateway is synchronous (engines block: llama.cpp computes, httpx streams); async callers use
`agenerate_*`, which run it on a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from kadr.config import Settings
from kadr.core.metrics import LLM_CALLS, LLM_LATENCY, LLM_TOKENS
from kadr.llm.engines.base import ChatRequest, Completion, Engine
from kadr.llm.errors import LLMInvalidAnswer, LLMNotConfigured
from kadr.llm.language import language_problem
from kadr.llm.model_files import CATALOG
from kadr.llm.prompts import RenderedPrompt
from kadr.llm.structured import parse_answer, response_schema

M = TypeVar("M", bound=BaseModel)
#: Checks beyond the schema (e.g. "scene durations add up"): a problem in words, or None.
Check = Callable[[M], str | None]


@dataclass
class LLMCall:
    """What one gateway call cost, to be recorded in `llm_calls` by the caller."""

    purpose: str
    engine: str
    model: str
    prompt_id: str
    prompt_version: int
    prompt_hash: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    #: "ok", "repaired" (valid after a re-ask), "invalid", "unavailable", "refused", "cancelled".
    outcome: str = "ok"
    attempts: int = 0
    error: str | None = None


@dataclass
class Answer(Generic[M]):
    value: M
    call: LLMCall


@dataclass
class TextAnswer:
    text: str
    call: LLMCall


@dataclass
class _Progress:
    """Answer tokens so far over every attempt, for a progress bar."""

    callback: Callable[[int], None] | None
    done_before: int = 0
    attempts: list[Completion] = field(default_factory=list)

    def __call__(self, tokens: int) -> None:
        if self.callback is not None:
            self.callback(self.done_before + tokens)


class LLMGateway:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    @property
    def signature(self) -> str:
        """`engine:model`: what a cache key or a `config_hash` must include."""
        return f"{self.engine.name}:{self.engine.model}"

    def generate_object(
        self,
        prompt: RenderedPrompt,
        schema: type[M],
        *,
        purpose: str,
        language: str | None = None,
        check: Check[M] | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.2,
        on_tokens: Callable[[int], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> Answer[M]:
        """An answer that validates as `schema`, passes `check` and is written in `language`.

        Constrained decoding (local) or `json_schema` (remote) shapes it; what still fails is
        re-asked up to `llm_repair_attempts` times with the reason, then LLMInvalidAnswer."""

        def accept(text: str) -> tuple[M | None, str | None]:
            try:
                value = parse_answer(text, schema)
            except ValueError as error:
                return None, str(error)
            problem = check(value) if check else None
            if problem is None:
                problem = language_problem(_strings_of(value.model_dump(mode="json")), language)
            return (value, None) if problem is None else (None, problem)

        value, call = self._ask(
            prompt,
            accept,
            purpose=purpose,
            schema=response_schema(schema),
            schema_name=schema.__name__,
            max_tokens=max_tokens,
            temperature=temperature,
            on_tokens=on_tokens,
            check_cancelled=check_cancelled,
        )
        return Answer(value, call)

    def generate_text(
        self,
        prompt: RenderedPrompt,
        *,
        purpose: str,
        language: str | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.4,
        on_tokens: Callable[[int], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> TextAnswer:
        """Prose in `language`, re-asked when it drifts into another script."""

        def accept(text: str) -> tuple[str | None, str | None]:
            if not text.strip():
                return None, "the answer was empty"
            problem = language_problem(text, language)
            return (text.strip(), None) if problem is None else (None, problem)

        text, call = self._ask(
            prompt,
            accept,
            purpose=purpose,
            schema=None,
            schema_name="",
            max_tokens=max_tokens,
            temperature=temperature,
            on_tokens=on_tokens,
            check_cancelled=check_cancelled,
        )
        return TextAnswer(text, call)

    async def agenerate_object(self, prompt: RenderedPrompt, schema: type[M], **options: Any) -> Answer[M]:
        return await asyncio.to_thread(lambda: self.generate_object(prompt, schema, **options))

    async def agenerate_text(self, prompt: RenderedPrompt, **options: Any) -> TextAnswer:
        return await asyncio.to_thread(self.generate_text, prompt, **options)

    def _ask(
        self,
        prompt: RenderedPrompt,
        accept: Callable[[str], tuple[Any, str | None]],
        *,
        purpose: str,
        schema: dict[str, Any] | None,
        schema_name: str,
        max_tokens: int,
        temperature: float,
        on_tokens: Callable[[int], None] | None,
        check_cancelled: Callable[[], None] | None,
    ) -> tuple[Any, LLMCall]:
        call = LLMCall(
            purpose=purpose,
            engine=self.engine.name,
            model=self.engine.model,
            prompt_id=prompt.prompt_id,
            prompt_version=prompt.prompt_version,
            prompt_hash=prompt.prompt_hash,
        )
        progress = _Progress(on_tokens)
        started = time.perf_counter()
        conversation = prompt
        problem = ""
        try:
            for repair in range(self.settings.llm_repair_attempts + 1):
                completion = self.engine.complete(
                    ChatRequest(
                        messages=conversation.messages,
                        max_tokens=max_tokens,
                        temperature=temperature if repair == 0 else min(1.0, temperature + 0.2 * repair),
                        json_schema=schema,
                        schema_name=schema_name,
                        on_tokens=progress,
                        check_cancelled=check_cancelled,
                    )
                )
                progress.done_before += completion.tokens_out
                call.tokens_in += completion.tokens_in
                call.tokens_out += completion.tokens_out
                call.attempts += completion.attempts
                value, problem_or_none = accept(completion.text)
                if problem_or_none is None:
                    call.outcome = "ok" if repair == 0 else "repaired"
                    return value, call
                problem = problem_or_none
                if completion.finish_reason == "length":
                    problem += f" (the answer was cut off at {max_tokens} tokens: be shorter)"
                conversation = prompt.with_feedback(completion.text[-4000:], problem)
            call.outcome = "invalid"
            call.error = problem[:500]
            raise LLMInvalidAnswer(
                f"{self.signature} gave no valid answer for {prompt.prompt_id} after "
                f"{self.settings.llm_repair_attempts + 1} tries: {problem}"
            )
        except Exception as error:
            if call.outcome == "ok":
                call.outcome = getattr(error, "slug", "").removeprefix("llm-") or "failed"
                call.error = str(error)[:500]
            # What was spent before the failure is still the user's: callers record it.
            error.llm_call = call  # type: ignore[attr-defined]
            raise
        finally:
            call.latency_ms = round((time.perf_counter() - started) * 1000)
            LLM_CALLS.labels(purpose, call.engine, call.outcome).inc()
            LLM_TOKENS.labels(purpose, call.engine, "in").inc(call.tokens_in)
            LLM_TOKENS.labels(purpose, call.engine, "out").inc(call.tokens_out)
            LLM_LATENCY.labels(purpose, call.engine).observe(call.latency_ms / 1000)


def _strings_of(value: Any) -> str:
    """Every string inside a JSON value, joined: the text whose language is checked."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, dict):
        return "".join(_strings_of(item) for item in value.values())
    if isinstance(value, list):
        return "".join(_strings_of(item) for item in value)
    return ""


_gateway: LLMGateway | None = None
_gateway_key: tuple[Any, ...] | None = None


def get_gateway(settings: Settings) -> LLMGateway:
    """The process's gateway for these settings (the embedded model is loaded once, lazily)."""
    global _gateway, _gateway_key
    key = (
        settings.llm_engine,
        settings.llm_local_model,
        settings.llm_url,
        settings.llm_model,
        str(settings.model_cache_dir),
        settings.llm_threads,
        settings.llm_context_tokens,
    )
    if _gateway is None or _gateway_key != key:
        _gateway, _gateway_key = LLMGateway(settings, create_engine(settings)), key
    return _gateway


def model_signature(settings: Settings) -> str:
    """`engine:model` of the gateway these settings make, from the settings alone (nothing is
    loaded, assembled or hashed): what a pipeline's `config_hash` includes, so that cached runs
    never mix answers of different models.

    A catalog model is named with its pinned digest (`local:qwen2.5-coder-1.5b@cc324af070c2`),
    a .gguf path by its file name only (`local:mymodel`), a remote model by its name
    (`openai:gpt-4o-mini`). LLMNotConfigured when the language model is off."""
    if settings.llm_engine == "off":
        raise LLMNotConfigured("this installation has no language model (KADR_LLM_ENGINE=off)")
    if settings.llm_engine == "openai":
        return f"openai:{settings.llm_model}"
    model = CATALOG.get(settings.llm_local_model)
    if model is not None:
        return f"local:{model.name}@{model.sha256[:12]}"
    return f"local:{Path(settings.llm_local_model).expanduser().stem}"


def create_engine(settings: Settings) -> Engine:
    if settings.llm_engine == "off":
        raise LLMNotConfigured("this installation has no language model (KADR_LLM_ENGINE=off)")
    if settings.llm_engine == "openai":
        from kadr.llm.engines.openai import OpenAIEngine

        return OpenAIEngine(settings)
    from kadr.llm.engines.local import LocalEngine

    return LocalEngine(settings)
