"""The embedded model: a GGUF file on llama.cpp (`llama-cpp-python`), in this process.

Loaded once per process and shared; llama.cpp's context is not thread-safe, so one generation
runs at a time and other callers wait their turn. Structured output uses llama.cpp's JSON-schema
grammar, so the answer is valid JSON of the right shape by construction.
"""

from __future__ import annotations

import os

# llama.cpp's OpenMP threads spin-wait by default, which on a busy 2-core machine slows the
# model about 14 times (AI.md); set before llama_cpp is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import atexit
import contextlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

from kadr.config import Settings
from kadr.llm.engines.base import ChatRequest, Completion
from kadr.llm.errors import LLMNotConfigured, LLMRefused
from kadr.llm.model_files import resolve_local_model

_load_lock = threading.Lock()
_generate_lock = threading.Lock()
_models: dict[tuple[str, int, int], Any] = {}
#: Fixed sampling seed: the same prompt gives the same answer on the same model.
SEED = 1234
#: llama.cpp's own command-line default; llama-cpp-python's chat call defaults to none (1.0), and
#: without it the 1.5B model can repeat one sentence until the token limit.
REPEAT_PENALTY = 1.1
#: Longest string bound turned into grammar. llama-cpp-python writes `maxLength: n` as n nested
#: optional characters; llama.cpp refused a 2000-character bound ("exceeds sane defaults") and
#: segfaulted in its sampler on a 6000-character one, taking the worker process with it. Longer
#: bounds are left to the gateway's validation, which re-asks an answer that runs past them.
MAX_GRAMMAR_STRING_BOUND = 256


def grammar_schema(schema: Any) -> Any:
    """`schema` with string length bounds llama.cpp's grammar cannot take dropped."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: grammar_schema(value) for key, value in schema.items()}
    if int(result.get("maxLength", 0) or 0) > MAX_GRAMMAR_STRING_BOUND:
        result.pop("maxLength")
        if int(result.get("minLength", 0) or 0) > 1:
            result.pop("minLength")
    return result


def runtime_available() -> bool:
    """Whether llama-cpp-python imports (it loads its shared library: not for health probes)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def runtime_installed() -> bool:
    """Whether llama-cpp-python is installed, without importing it."""
    return importlib.util.find_spec("llama_cpp") is not None


@atexit.register
def _close_models() -> None:
    """Free loaded models while llama.cpp's library is still there: left to garbage collection
    at interpreter exit, llama-cpp-python's finalizer calls into an unloaded module and prints a
    TypeError traceback."""
    with _load_lock:
        for model in _models.values():
            with contextlib.suppress(Exception):
                model.close()
        _models.clear()


def _llama(path: Path, context_tokens: int, threads: int) -> Any:
    key = (str(path), context_tokens, threads)
    with _load_lock:
        model = _models.get(key)
        if model is None:
            from llama_cpp import Llama

            model = Llama(
                model_path=str(path),
                n_ctx=context_tokens,
                n_threads=threads,
                n_threads_batch=threads,
                seed=SEED,
                verbose=False,
            )
            _models[key] = model
        return model


class LocalEngine:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        if not runtime_available():
            raise LLMNotConfigured(
                "the embedded language model needs llama-cpp-python: run `make install` "
                "(it builds once), or set KADR_LLM_ENGINE=openai or off"
            )
        self.settings = settings
        self.path, self._model = resolve_local_model(settings.llm_local_model, settings.model_cache_dir)

    @property
    def model(self) -> str:
        return self._model

    def complete(self, request: ChatRequest) -> Completion:
        llama = _llama(self.path, self.settings.llm_context_tokens, self.settings.llm_threads)
        options: dict[str, Any] = {
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": SEED,
            "repeat_penalty": REPEAT_PENALTY,
            "stream": True,
        }
        if request.json_schema is not None:
            options["response_format"] = {
                "type": "json_object",
                "schema": grammar_schema(request.json_schema),
            }
        prompt_text = "\n".join(message["content"] for message in request.messages)
        parts: list[str] = []
        finish_reason = "stop"
        with _generate_lock:
            tokens_in = len(llama.tokenize(prompt_text.encode(), add_bos=False)) + 8 * len(request.messages)
            if tokens_in + request.max_tokens > self.settings.llm_context_tokens:
                raise LLMRefused(
                    f"the prompt ({tokens_in} tokens) and answer ({request.max_tokens}) do not fit the "
                    f"embedded model's context of {self.settings.llm_context_tokens} tokens "
                    "(KADR_LLM_CONTEXT_TOKENS)"
                )
            try:
                for chunk in llama.create_chat_completion(**options):
                    choice = chunk["choices"][0]
                    content = choice.get("delta", {}).get("content")
                    if content:
                        parts.append(content)
                        if request.on_tokens is not None:
                            request.on_tokens(len(parts))
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                    if request.check_cancelled is not None:
                        request.check_cancelled()
            except ValueError as error:  # llama.cpp's own refusals (context exceeded, bad grammar)
                raise LLMRefused(f"the embedded model refused the request: {error}") from None
        return Completion("".join(parts), tokens_in, len(parts), finish_reason)
