"""Any OpenAI-compatible `/v1/chat/completions` server (OpenAI, vLLM, llama.cpp's server,
Ollama, LiteLLM…), streamed.

Structured output asks for `response_format: json_schema` with `strict: true` (`strict: false`
for schemas strict mode cannot express, such as open maps); a server that refuses it (400 naming
`response_format`/`json_schema`) is asked again with `json_object` and the schema written into
the system message, and that is remembered for the engine's later calls; the gateway validates
what comes back either way. 408, 429 and 5xx are retried after `Retry-After` (seconds or an
HTTP date) or an exponential backoff; other 4xx are not (LLMRefused). A wait longer than
`MAX_INLINE_WAIT_SECONDS`, or retries spent, go back to the caller as LLMUnavailable with when to
try again. Streaming with a read timeout between chunks means a server that stalls is given up
on, not waited for.
"""

from __future__ import annotations

import email.utils
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any, NoReturn

import httpx

from kadr.config import Settings
from kadr.llm.engines.base import ChatRequest, Completion
from kadr.llm.errors import LLMNotConfigured, LLMRefused, LLMUnavailable
from kadr.llm.structured import strict_compatible, strict_schema

#: Longest `Retry-After` the engine sleeps through inside one call; longer ones go back to the
#: caller (a job retries later instead of holding a worker thread).
MAX_INLINE_WAIT_SECONDS = 30.0
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)
#: Statuses worth trying again: the server is busy or broken for now, not refusing the request.
TRANSIENT_STATUSES = frozenset({408, 429})
#: How often a wait between retries looks whether the work was cancelled.
CANCEL_POLL_SECONDS = 0.25


class _SchemaRefused(Exception):
    """The server does not take `json_schema`: ask again with `json_object`."""


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)  # RFC says an integer; some proxies send "1.5"
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OpenAIEngine:
    name = "openai"

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        if not settings.llm_url or not settings.llm_model:
            raise LLMNotConfigured("KADR_LLM_ENGINE=openai needs KADR_LLM_URL and KADR_LLM_MODEL")
        self.settings = settings
        self.url = settings.llm_url.rstrip("/") + "/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if settings.llm_api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
        timeout = settings.llm_timeout_seconds
        self.client = client or httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(10.0, timeout))
        )
        #: Set once the server refused `json_schema`: later calls go straight to `json_object`.
        self._json_schema_refused = threading.Event()

    @property
    def model(self) -> str:
        return self.settings.llm_model

    def complete(self, request: ChatRequest) -> Completion:
        attempts = 0
        while True:
            attempts += 1
            try:
                completion = self._stream(request)
                return Completion(
                    completion.text,
                    completion.tokens_in,
                    completion.tokens_out,
                    completion.finish_reason,
                    attempts,
                )
            except _Transient as transient:
                wait = transient.retry_after
                if wait is None:
                    wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
                if attempts > self.settings.llm_max_retries:
                    # The caller (a job) retries later: tell it when the server said, or when
                    # the next backoff step would have been.
                    raise LLMUnavailable(
                        f"{self.url} did not answer after {attempts} attempts: {transient}",
                        retry_after_seconds=wait,
                    ) from None
                if wait > MAX_INLINE_WAIT_SECONDS:
                    raise LLMUnavailable(
                        f"{self.url} asks to wait {wait:.0f} s: {transient}", retry_after_seconds=wait
                    ) from None
                _sleep(wait, request.check_cancelled)

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.llm_model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.json_schema is None:
            return body
        if self._json_schema_refused.is_set():
            # `json_object` carries no schema, so the model must read the shape in the prompt
            # (OpenAI also refuses `json_object` unless the messages say "JSON").
            shape = json.dumps(request.json_schema, ensure_ascii=False, separators=(",", ":"))
            body["messages"] = _with_system_note(
                request.messages, f"Answer with one JSON object following this JSON schema: {shape}"
            )
            body["response_format"] = {"type": "json_object"}
        else:
            strict = strict_compatible(request.json_schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name or "answer",
                    "schema": strict_schema(request.json_schema) if strict else request.json_schema,
                    "strict": strict,
                },
            }
        return body

    def _stream(self, request: ChatRequest) -> Completion:
        try:
            return self._post(request)
        except _SchemaRefused:
            self._json_schema_refused.set()
            return self._post(request)

    def _post(self, request: ChatRequest) -> Completion:
        body = self._body(request)
        try:
            with self.client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._refusal(body, response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    response.read()  # a server that ignores `stream` answers one JSON object
                    return self._from_json(request, response)
                return self._from_events(request, response)
        except httpx.TimeoutException as error:
            raise _Transient(f"timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise _Transient(f"connection failed ({type(error).__name__}: {error})") from None

    def _refusal(self, body: dict[str, Any], response: httpx.Response) -> NoReturn:
        """Raise what an error answer means: retry, fall back to `json_object`, or give up."""
        message = _error_message(response)
        status = response.status_code
        if status in TRANSIENT_STATUSES or status >= 500:
            raise _Transient(
                f"HTTP {status}: {message}", retry_after_seconds(response.headers.get("retry-after"))
            )
        format_type = body.get("response_format", {}).get("type")
        if (
            status in (400, 422)
            and format_type == "json_schema"
            and any(word in message.lower() for word in ("response_format", "json_schema", "schema"))
        ):
            raise _SchemaRefused(message)
        raise LLMRefused(f"{self.url} answered HTTP {status}: {message}")

    def _from_events(self, request: ChatRequest, response: httpx.Response) -> Completion:
        parts: list[str] = []
        tokens_in = tokens_out = chunks = 0
        finish_reason = "stop"
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise _Transient("the server sent a malformed stream event") from None
            if "error" in event:
                raise _Transient(f"the server reported an error mid-stream: {event['error']}")
            for choice in event.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    parts.append(content)
                    chunks += 1
                    if request.on_tokens is not None:
                        request.on_tokens(chunks)
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
            if request.check_cancelled is not None:
                request.check_cancelled()
            usage = event.get("usage")
            if usage:
                tokens_in = int(usage.get("prompt_tokens") or 0)
                tokens_out = int(usage.get("completion_tokens") or 0)
        text = "".join(parts)
        if not tokens_out:  # servers that send no usage: count chunks, roughly one token each
            tokens_out = chunks
            tokens_in = tokens_in or _estimate_prompt_tokens(request)
        return Completion(text, tokens_in, tokens_out, finish_reason)

    @staticmethod
    def _from_json(request: ChatRequest, response: httpx.Response) -> Completion:
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Transient("the server's answer is not a chat completion") from None
        usage = payload.get("usage") or {}
        tokens_out = int(usage.get("completion_tokens") or 0)
        if not tokens_out and text:
            tokens_out = max(1, len(text) // 4)
        if request.on_tokens is not None and tokens_out:
            request.on_tokens(tokens_out)
        return Completion(
            text,
            int(usage.get("prompt_tokens") or 0) or _estimate_prompt_tokens(request),
            tokens_out,
            choice.get("finish_reason") or "stop",
        )


def _with_system_note(messages: tuple[dict[str, str], ...], note: str) -> list[dict[str, str]]:
    """The messages with `note` added to the system message (a second system message later in
    the conversation breaks the chat templates of some local servers)."""
    result = [dict(message) for message in messages]
    if result and result[0].get("role") == "system":
        result[0]["content"] = f"{result[0]['content']}\n\n{note}"
    else:
        result.insert(0, {"role": "system", "content": note})
    return result


def _estimate_prompt_tokens(request: ChatRequest) -> int:
    """Roughly four characters a token: what the budget counts when a server reports no usage."""
    return sum(len(message["content"]) for message in request.messages) // 4


def _sleep(seconds: float, check_cancelled: Callable[[], None] | None) -> None:
    """Wait before a retry, noticing a cancel within `CANCEL_POLL_SECONDS`."""
    deadline = time.monotonic() + seconds
    while True:
        if check_cancelled is not None:
            check_cancelled()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CANCEL_POLL_SECONDS))


def _error_message(response: httpx.Response) -> str:
    """The provider's own words: OpenAI's `{"error": {"message": …}}`, or the body's start."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    if isinstance(error, str):
        return error[:300]
    return json.dumps(payload)[:300]
