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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, SecretStr

from kadr.config import Settings
from kadr.core.errors import Cancelled
from kadr.core.metrics import LLM_CALLS, LLM_LATENCY, LLM_TOKENS
from kadr.llm.engines.base import ChatRequest, Engine
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
    """Answer tokens so far over every attempt, for a progress bar: it only ever grows (a
    retried stream starts counting again from one)."""

    callback: Callable[[int], None] | None
    done_before: int = 0
    reported: int = 0

    def __call__(self, tokens: int) -> None:
        total = self.done_before + tokens
        if self.callback is not None and total > self.reported:
            self.reported = total
            self.callback(total)

    def attempt_done(self, tokens_out: int) -> None:
        self.done_before = max(self.reported, self.done_before + tokens_out)


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
                progress.attempt_done(completion.tokens_out)
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
                call.outcome = _outcome_of(error)
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


def _outcome_of(error: Exception) -> str:
    """The `llm_calls.outcome` of a call that raised: unavailable, refused, cancelled, …"""
    if isinstance(error, Cancelled):
        return "cancelled"
    slug = getattr(error, "slug", "")
    return slug.removeprefix("llm-") if isinstance(slug, str) and slug else "failed"


def _strings_of(value: Any) -> str:
    """Every string inside a JSON value, one a line: the text whose language is checked.
    Single ASCII words (enum values, ids, URLs, hashtags: "voiceover", "9:16") are no prose in
    any language and are left out."""
    if isinstance(value, str):
        if value.isascii() and len(value.split()) <= 1:
            return ""
        return value + "\n"
    if isinstance(value, dict):
        return "".join(_strings_of(item) for item in value.values())
    if isinstance(value, list):
        return "".join(_strings_of(item) for item in value)
    return ""


_gateway: LLMGateway | None = None
_gateway_key: tuple[Any, ...] | None = None
_gateway_lock = threading.Lock()


def _settings_key(settings: Settings) -> tuple[Any, ...]:
    """Every setting the gateway or its engine reads (timeouts and retries too, so a changed
    setting never keeps an engine built with the old one)."""
    names = sorted(name for name in Settings.model_fields if name.startswith("llm_"))
    values = [getattr(settings, name) for name in names]
    plain = [value.get_secret_value() if isinstance(value, SecretStr) else value for value in values]
    return (*zip(names, plain, strict=True), str(settings.model_cache_dir))


def get_gateway(settings: Settings) -> LLMGateway:
    """The process's gateway for these settings (the embedded model is loaded once, lazily).
    LLMNotConfigured (501) when the engine is off or cannot run here."""
    global _gateway, _gateway_key
    key = _settings_key(settings)
    with _gateway_lock:  # two first calls at once must not assemble the model twice
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


def describe_engine(settings: Settings) -> dict[str, str]:
    """What `/health` says about the language model: the engine, what answers (the signature
    a cache key holds) and `status` ok, off, not-configured or not-installed. Never loads,
    assembles or calls the model."""
    engine = settings.llm_engine
    if engine == "off":
        return {"engine": "off", "model": "off", "status": "off"}
    if engine == "openai":
        if not settings.llm_url or not settings.llm_model:
            return {"engine": engine, "model": "not configured", "status": "not-configured"}
        return {"engine": engine, "model": f"openai:{settings.llm_model}", "status": "ok"}
    from kadr.llm.engines.local import runtime_installed
    from kadr.llm.model_files import describe_local_model

    identity, installed = describe_local_model(settings.llm_local_model)
    if not runtime_installed():
        return {
            "engine": engine,
            "model": "not installed",
            "status": "not-installed",
            "detail": "llama-cpp-python is not installed",
        }
    if not installed:
        return {
            "engine": engine,
            "model": "not installed",
            "status": "not-installed",
            "detail": f"the model {settings.llm_local_model} is not installed",
        }
    return {"engine": engine, "model": f"local:{identity}", "status": "ok"}
