"""An OpenAI-compatible chat completions server on a real socket, for the LLM gateway's tests.

It speaks the protocol as OpenAI documents it: `POST /v1/chat/completions` with bearer auth,
`stream: true` answered as server-sent events (`data: {chunk}` … `data: [DONE]`, a final chunk
with `usage` when `stream_options.include_usage` is set), a plain JSON completion otherwise,
errors as `{"error": {"message", "type", "code"}}` with the status OpenAI uses (401, 400, 429
with `Retry-After`, 500), and `response_format` of type `json_schema` (`strict`) or
`json_object`. As OpenAI does, a `strict` json_schema must close every object
(`additionalProperties: false`, every property required), and `json_object` needs the word
"JSON" somewhere in the messages.

Every request that reaches the endpoint is recorded in `requests` (refused ones too), with the
moment it arrived. Tests script what comes next with `then(...)`; when nothing is scripted,
`answer(request)` (by default the text "ok") makes the reply. `refuse_json_schema` makes it
behave like servers that reject `json_schema` with a 400 (Ollama's and some vLLM versions').
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.process import free_port


@dataclass
class Reply:
    """An answer with this content (streamed when the request streams)."""

    content: str
    finish_reason: str = "stop"
    #: Seconds to wait before the first chunk (a slow server); `stall_after_chunks` stops
    #: sending midway and holds the connection open (a hung server).
    delay: float = 0.0
    stall_after_chunks: int | None = None


@dataclass
class Failure:
    """An error answer: `status`, OpenAI's error body, `Retry-After` if given."""

    status: int
    message: str = "error"
    retry_after: str | None = None
    type: str = "server_error"


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


def _chunks(text: str) -> list[str]:
    """The content cut roughly as a tokenizer would: words with their leading spaces."""
    pieces: list[str] = []
    current = ""
    for char in text:
        if char == " " and current.strip():
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces or [""]


class OpenAIServer:
    def __init__(self, api_key: str = "sk-test", model: str = "standin-1") -> None:
        self.api_key = api_key
        self.model = model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.lock = threading.Lock()
        self.script: list[Reply | Failure] = []
        self.answer: Callable[[dict[str, Any]], str] = lambda request: "ok"
        self.refuse_json_schema = False
        #: Answer one JSON completion even when the request streams (some proxies do).
        self.ignore_stream = False
        #: Send the `usage` chunk when asked (some servers never report usage).
        self.send_usage = True
        self.requests: list[Received] = []
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- test controls --------------------------------------------------------------------------

    def then(self, *steps: Reply | Failure) -> None:
        with self.lock:
            self.script.extend(steps)

    def settings(self) -> dict[str, Any]:
        """kadr settings that point the gateway at this server, typed as `Settings` holds them
        (so `settings.model_copy(update=server.settings())` works as well as `Settings(**…)`)."""
        return {
            "llm_engine": "openai",
            "llm_url": self.url,
            "llm_api_key": SecretStr(self.api_key),
            "llm_model": self.model,
        }

    # --- the protocol ---------------------------------------------------------------------------

    async def _completions(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        with self.lock:
            self.requests.append(Received(body if isinstance(body, dict) else {}, dict(request.headers)))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return _error(400, "'messages' and 'model' are required properties.", "invalid_request_error")
        refusal = self._format_refusal(body)
        if refusal is not None:
            return refusal
        with self.lock:  # a request refused above does not consume the script
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Failure):
            headers = {"Retry-After": step.retry_after} if step.retry_after else None
            return _error(step.status, step.message, step.type, headers=headers)
        reply = step or Reply(self.answer(body))
        if reply.delay:
            await self._sleep(reply.delay)
        created = int(time.time())
        prompt_tokens = sum(len(str(message.get("content", "")).split()) for message in body["messages"])
        pieces = _chunks(reply.content)
        if not body.get("stream") or self.ignore_stream:
            return JSONResponse(
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": created,
                    "model": self.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(pieces),
                        "total_tokens": prompt_tokens + len(pieces),
                    },
                }
            )
        include_usage = self.send_usage and bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[bytes]:
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
                payload = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    **extra,
                }
                return f"data: {json.dumps(payload)}\n\n".encode()

            yield chunk({"role": "assistant", "content": ""})
            for index, piece in enumerate(pieces):
                if reply.stall_after_chunks is not None and index >= reply.stall_after_chunks:
                    await self._sleep(3600)  # hung: until the client gives up or the server stops
                yield chunk({"content": piece})
            yield chunk({}, reply.finish_reason)
            if include_usage:
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(pieces),
                    "total_tokens": prompt_tokens + len(pieces),
                }
                payload = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(payload)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def _format_refusal(self, body: dict[str, Any]) -> Response | None:
        """The 400 OpenAI answers for a `response_format` it does not take, or None."""
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_object":
            if "json" not in json.dumps(body["messages"]).lower():
                return _error(
                    400,
                    "'messages' must contain the word 'json' in some form, to use 'response_format' "
                    "of type 'json_object'.",
                    "invalid_request_error",
                    param="messages",
                )
            return None
        if response_format.get("type") != "json_schema":
            return None
        if self.refuse_json_schema:
            return _error(
                400,
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
                "with this model.",
                "invalid_request_error",
                param="response_format",
            )
        json_schema = response_format.get("json_schema") or {}
        schema = json_schema.get("schema")
        if not isinstance(schema, dict):
            return _error(
                400,
                "Missing required parameter: 'response_format.json_schema.schema'.",
                "invalid_request_error",
            )
        problem = _strict_problem(schema, ()) if json_schema.get("strict") else None
        if problem is not None:
            return _error(
                400,
                f"Invalid schema for response_format '{json_schema.get('name')}': {problem}",
                "invalid_request_error",
                param="response_format",
            )
        return None

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but end as soon as the server stops (a hung reply must not hold up `stop`)."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, deadline - time.monotonic()))

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="openai-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the OpenAI stand-in did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _error(
    status: int,
    message: str,
    error_type: str,
    code: str | None = None,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": error_type, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def _strict_problem(schema: dict[str, Any], context: tuple[str, ...]) -> str | None:
    """What OpenAI's strict mode says about `schema`: objects closed, every property required."""
    where = f"In context=({', '.join(repr(part) for part in context)})"
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        missing = [name for name in properties or {} if name not in (schema.get("required") or [])]
        if missing:
            return (
                f"{where}, 'required' is required to be supplied and to be an array including every "
                f"key in properties. Missing '{missing[0]}'."
            )
    children: list[tuple[tuple[str, ...], Any]] = []
    for key in ("items", "additionalProperties", "not"):
        children.append(((*context, key), schema.get(key)))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        children.extend(
            ((*context, key, str(index)), item) for index, item in enumerate(schema.get(key) or [])
        )
    for key in ("properties", "$defs", "definitions"):
        children.extend(((*context, key, name), item) for name, item in (schema.get(key) or {}).items())
    for child_context, child in children:
        if isinstance(child, dict):
            problem = _strict_problem(child, child_context)
            if problem is not None:
                return problem
    return None
