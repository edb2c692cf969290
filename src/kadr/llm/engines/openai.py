"""Any OpenAI-compatible `/v1/chat/completions` server (OpenAI, vLLM, llama.cpp's server,
Ollama, LiteLLM…), streamed.

Structured output asks for `response_format: json_schema` with `strict: true`; a server that
refuses it (400 naming `response_format`/`json_schema`) is asked again with `json_object`, and
the gateway validates what comes back either way. 429 and 5xx are retried after `Retry-After`
(seconds or an HTTP date) or an exponential backoff; other 4xx are not. Streaming with a read
timeout between chunks means a server that stalls is given up on, not waited for.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from typing import Any

import httpx

from kadr.config import Settings
from kadr.llm.engines.base import ChatRequest, Completion
from kadr.llm.errors import LLMNotConfigured, LLMRefused, LLMUnavailable
from kadr.llm.structured import strict_schema

#: Longest `Retry-After` the engine sleeps through inside one call; longer ones go back to the
#: caller (a job retries later instead of holding a worker thread).
MAX_INLINE_WAIT_SECONDS = 30.0
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0)


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
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
                if attempts > self.settings.llm_max_retries:
                    raise LLMUnavailable(
                        f"{self.url} did not answer after {attempts} attempts: {transient}",
                        retry_after_seconds=transient.retry_after,
                    ) from None
                wait = transient.retry_after
                if wait is None:
                    wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
                if wait > MAX_INLINE_WAIT_SECONDS:
                    raise LLMUnavailable(
                        f"{self.url} asks to wait {wait:.0f} s: {transient}", retry_after_seconds=wait
                    ) from None
                if request.check_cancelled is not None:
                    request.check_cancelled()
                time.sleep(wait)

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.llm_model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.json_schema is not None:
            if self._json_schema_refused.is_set():
                body["response_format"] = {"type": "json_object"}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.schema_name,
                        "schema": strict_schema(request.json_schema),
                        "strict": True,
                    },
                }
        return body

    def _stream(self, request: ChatRequest) -> Completion:
        body = self._body(request)
        try:
            with self.client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    return self._refusal(request, body, response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    response.read()  # a server that ignores `stream` answers one JSON object
                    return self._from_json(response)
                return self._from_events(request, response)
        except httpx.TimeoutException as error:
            raise _Transient(f"timed out ({type(error).__name__})") from None
        except (httpx.TransportError, httpx.RemoteProtocolError) as error:
            raise _Transient(f"connection failed ({error})") from None

    def _refusal(self, request: ChatRequest, body: dict[str, Any], response: httpx.Response) -> Completion:
        message = _error_message(response)
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(
                f"HTTP {status}: {message}", retry_after_seconds(response.headers.get("retry-after"))
            )
        format_type = body.get("response_format", {}).get("type")
        if (
            status in (400, 422)
            and format_type == "json_schema"
            and any(word in message.lower() for word in ("response_format", "json_schema", "schema"))
        ):
            self._json_schema_refused.set()
            return self._stream(request)
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
            tokens_in = tokens_in or sum(len(message["content"]) for message in request.messages) // 4
        return Completion(text, tokens_in, tokens_out, finish_reason)

    @staticmethod
    def _from_json(response: httpx.Response) -> Completion:
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Transient("the server's answer is not a chat completion") from None
        usage = payload.get("usage") or {}
        return Completion(
            text,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            choice.get("finish_reason") or "stop",
        )


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
