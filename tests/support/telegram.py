"""A stand-in Telegram Bot API server for tests: a real HTTP server on a local port.

It runs uvicorn in a background thread, so the test process and separate `kadr worker` processes can all
talk to it. Point a client at `telegram.api_url` (`TelegramClient(token, api_url=telegram.api_url)`).

    with FakeTelegram() as telegram:
        telegram.add_chat(-1001234567890, "Clips", type="channel", username="kadr_clips")
        ...
        assert telegram.messages[0]["sha256"] == expected

Behaves like the real Bot API where tests care: `{"ok": ..., "result"|"error_code"/"description"}`
answers, 401 for a wrong token, 400 "chat not found" for chats not added with `add_chat` (getChat and
the send methods alike), 413 for bodies above the upload limit, and injectable 429 / 5xx / 403 faults.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message

from tests.support.process import wait_for_items

BOT_UPLOAD_LIMIT = 50 * 1024 * 1024
SEND_METHODS = frozenset({"sendMessage", "sendVideo"})


def _error(code: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


class FakeTelegram:
    """Context manager: serves the fake Bot API on 127.0.0.1 while inside `with`."""

    def __init__(
        self, bot_token: str = "123456:TEST-token", *, max_upload_bytes: int = BOT_UPLOAD_LIMIT
    ) -> None:
        self.bot_token = bot_token
        self.bot_id = int(bot_token.split(":", 1)[0]) if bot_token.split(":", 1)[0].isdigit() else 123456
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()
        self._chats: dict[str, dict[str, Any]] = {}
        self._messages: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._blocked: dict[str, str] = {}
        self._rate_limited = 0
        self._retry_after = 1
        self._failures = 0
        self._failure_status = 500
        self._message_ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    # --- lifecycle ------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    url = api_url

    def __enter__(self) -> FakeTelegram:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-telegram", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.01)
        self._socket = sock
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    # --- configuration and fault injection ------------------------------------
    def add_chat(
        self, chat_id: int | str, title: str, type: str = "channel", username: str | None = None
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": int(chat_id), "type": type}
        if type == "private":
            chat["first_name"] = title
        else:
            chat["title"] = title
        if username:
            chat["username"] = username.lstrip("@")
        with self._lock:
            self._chats[str(int(chat_id))] = chat
        return dict(chat)

    def rate_limit_next(self, n: int, retry_after: int = 1) -> None:
        """Answer the next `n` send calls with 429 and `parameters.retry_after`."""
        with self._lock:
            self._rate_limited = n
            self._retry_after = retry_after

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next `n` send calls with a server error."""
        with self._lock:
            self._failures = n
            self._failure_status = status

    def block(self, chat_id: int | str, description: str = "Forbidden: bot was blocked by the user") -> None:
        """Sends to this chat answer 403 from now on (the bot was blocked or kicked)."""
        with self._lock:
            self._blocked[str(int(chat_id))] = description

    # --- inspection ------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """What was sent successfully, in order (copies)."""
        with self._lock:
            return [dict(message) for message in self._messages]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every call received (method, time, HTTP status answered), in order."""
        with self._lock:
            return [dict(request) for request in self._requests]

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return wait_for_items(lambda: self.messages, count, timeout, "Telegram messages")

    # --- the server -------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        response = await self._handle(request, method)
        with self._lock:
            self._requests.append({"method": method, "status": response.status_code, "time": time.time()})
        return response

    async def _handle(self, request: Request, method: str) -> JSONResponse:
        if request.path_params["token"] != self.bot_token:
            await _drain(request)
            return _error(401, "Unauthorized")
        body = await _read_limited(request, self.max_upload_bytes)
        if body is None:
            return _error(413, "Request Entity Too Large")
        if method in SEND_METHODS:
            with self._lock:
                if self._rate_limited > 0:
                    self._rate_limited -= 1
                    retry = self._retry_after
                    return _error(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
                if self._failures > 0:
                    self._failures -= 1
                    return _error(self._failure_status, "Internal Server Error")
        replay = _replaying(request, body)
        params = await _params(replay)
        try:
            if method == "getMe":
                return _ok(self._me())
            if method == "getChat":
                chat = self._chat(params.get("chat_id"))
                return _ok(chat) if chat else _error(400, "Bad Request: chat not found")
            if method == "sendMessage":
                return await self._send_message(params)
            if method == "sendVideo":
                return await self._send_video(params)
        finally:
            for value in params.values():
                if isinstance(value, UploadFile):
                    await value.close()
        return _error(404, "Not Found: method not found")

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "kadr test bot",
            "username": "kadr_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, chat_id: Any) -> dict[str, Any] | None:
        if chat_id is None:
            return None
        key = str(chat_id).strip()
        with self._lock:
            if key.startswith("@"):
                for chat in self._chats.values():
                    if chat.get("username", "").lower() == key[1:].lower():
                        return dict(chat)
                return None
            found = self._chats.get(key)
            return dict(found) if found else None

    def _check_send(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if "chat_id" not in params:
            return None, _error(400, "Bad Request: chat_id is empty")
        chat = self._chat(params["chat_id"])
        if chat is None:
            return None, _error(400, "Bad Request: chat not found")
        with self._lock:
            blocked = self._blocked.get(str(chat["id"]))
        if blocked:
            return None, _error(403, blocked)
        return chat, None

    def _record(self, chat: dict[str, Any], method: str, result: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            self._messages.append(
                {
                    "chat_id": chat["id"],
                    "method": method,
                    "message_id": result["message_id"],
                    "time": time.time(),
                    **fields,
                }
            )

    async def _send_message(self, params: dict[str, Any]) -> JSONResponse:
        chat, error = self._check_send(params)
        if error is not None or chat is None:
            return error or _error(400, "Bad Request")
        text = str(params.get("text") or "")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        result = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "text": text}
        self._record(chat, "sendMessage", result, text=text, size=None, sha256=None)
        return _ok(result)

    async def _send_video(self, params: dict[str, Any]) -> JSONResponse:
        chat, error = self._check_send(params)
        if error is not None or chat is None:
            return error or _error(400, "Bad Request")
        video = params.get("video")
        if not isinstance(video, UploadFile):
            return _error(400, "Bad Request: there is no video in the request")
        caption = str(params.get("caption") or "")
        if len(caption.encode("utf-16-le")) // 2 > 1024:
            return _error(400, "Bad Request: message caption is too long")
        digest = hashlib.sha256()
        size = 0
        while chunk := await video.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
        if size == 0:
            return _error(400, "Bad Request: file must be non-empty")
        sha256 = digest.hexdigest()
        message_id = next(self._message_ids)
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "video": {
                "duration": _int(params.get("duration")),
                "width": _int(params.get("width")),
                "height": _int(params.get("height")),
                "file_name": video.filename,
                "mime_type": video.content_type or "video/mp4",
                "file_id": f"BAACAgQAAx-{sha256[:32]}",
                "file_unique_id": f"AgAD{sha256[:12]}",
                "file_size": size,
            },
        }
        if caption:
            result["caption"] = caption
        thumbnail = params.get("thumbnail")
        thumbnail_size = None
        if isinstance(thumbnail, UploadFile):
            thumbnail_size = len(await thumbnail.read())
        self._record(
            chat,
            "sendVideo",
            result,
            caption=caption,
            size=size,
            sha256=sha256,
            file_name=video.filename,
            supports_streaming=str(params.get("supports_streaming", "")).lower() == "true",
            thumbnail_size=thumbnail_size,
            width=result["video"]["width"],
            height=result["video"]["height"],
            duration=result["video"]["duration"],
        )
        return _ok(result)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


async def _drain(request: Request) -> None:
    async for _chunk in request.stream():
        pass


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The whole body, or None (after draining it) when it is above `limit` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        await _drain(request)
        return None
    chunks: list[bytes] = []
    size = 0
    stream: AsyncIterator[bytes] = request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            chunks.clear()
            async for _rest in stream:
                pass
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _replaying(request: Request, body: bytes) -> Request:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


async def _params(request: Request) -> dict[str, Any]:
    """Bot API parameters: query string, then JSON, urlencoded or multipart body."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            data = json.loads(body)
            if isinstance(data, dict):
                params.update(data)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_part_size=8 * 1024 * 1024)
        for key, value in form.multi_items():
            params[key] = value
    return params
